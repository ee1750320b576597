// What every tar writer of host trees shares (archive GET/export, layer diffs): the entry type
// of a file, the device numbers of a node, and a regular file's content written as exactly the
// size its header announced, whatever happens to the file while it is read.
import { constants as fsc, promises as fsp, type Stats } from 'node:fs';
import type { TarEntryType } from './tar-reader.js';
import { encodeTarHeader, tarPadding, type TarWriteHeader } from './tar-writer.js';

/** The tar type of a file; undefined for sockets, which are not archived. */
export function tarEntryType(st: Stats): TarEntryType | undefined {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'directory';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  return undefined;
}

/** glibc's major/minor split of a device number (gnu_dev_major/minor). */
export function deviceNumbers(st: Stats): { devmajor: number; devminor: number } {
  const rdev = BigInt(st.rdev);
  return {
    devmajor: Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & 0xfffff000n)),
    devminor: Number((rdev & 0xffn) | ((rdev >> 12n) & 0xffffff00n)),
  };
}

/**
 * A regular file's entry: its header with `st.size`, then exactly that many bytes read from
 * `hostPath` (opened without following a link), zeros for what vanished or shrank meanwhile,
 * and the padding.
 */
export async function* regularFileEntry(hostPath: string, header: Omit<TarWriteHeader, 'type' | 'size'>, st: Stats): AsyncGenerator<Buffer> {
  const size = st.size;
  yield encodeTarHeader({ ...header, type: 'file', size });
  let sent = 0;
  if (size > 0) {
    const fd = await fsp.open(hostPath, fsc.O_RDONLY | fsc.O_NOFOLLOW).catch(() => undefined);
    try {
      while (fd && sent < size) {
        const buf = Buffer.allocUnsafe(Math.min(256 * 1024, size - sent));
        const { bytesRead } = await fd.read(buf, 0, buf.length, sent);
        if (bytesRead === 0) break;
        sent += bytesRead;
        yield bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
      }
    } catch {
      // unreadable now: zeros below
    } finally {
      await fd?.close();
    }
  }
  while (sent < size) {
    const n = Math.min(size - sent, 64 * 1024);
    yield Buffer.alloc(n);
    sent += n;
  }
  yield tarPadding(size);
}
