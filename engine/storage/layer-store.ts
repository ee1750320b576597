// Unpacked layers, keyed by chain ID, each stored once however many images share it.
//
// Layout under <storage root>/layers:
//   <chain-hex>/diff/        the layer's files (an overlayfs lower directory)
//   <chain-hex>/layer.json   its record (LayerRecord)
//   l/<short>                symlink to ../<chain-hex>/diff, a short name for long lowerdir stacks
//   tmp-<random>/            an unpack in progress or left by a crash (removed by open())
// A layer is unpacked into tmp-<random>/diff, its record written beside it, and the whole
// directory renamed to <chain-hex> in one step: a layer directory exists whole or not at all.
// Removal renames it back to tmp-… first, so a crash mid-removal leaves only a leftover.
//
// chainID(L1) = diffID(L1); chainID(Ln) = sha256(chainID(Ln-1) + " " + diffID(Ln)).
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineError } from '../errors.js';
import { makeTempDir, removeTempLeftovers, TEMP_PREFIX, type UnpackResult, unpackLayer } from './layer-unpack.js';

export interface LayerRecord {
  /** "sha256:<hex>": identifies the layer together with everything below it. */
  chainID: string;
  /** "sha256:<hex>" of the layer's uncompressed tar. */
  diffID: string;
  /** Chain ID of the layer below, null for a base layer. */
  parent: string | null;
  /** Bytes of regular-file content in this layer. */
  size: number;
  /** Bytes of the layer's uncompressed tar stream. */
  uncompressedSize: number;
  /** Digest and size of the blob it was unpacked from, as given (possibly compressed). */
  compressedDigest: string;
  compressedSize: number;
  compression: UnpackResult['compression'];
  /** ISO time the layer was stored. */
  created: string;
}

export interface PutOptions {
  /**
   * The layer's DiffID when known (from an image config). If that layer is already stored, put
   * returns it without reading `input` (the caller closes it); otherwise the unpacked stream
   * must hash to it, or nothing is stored. Concurrent puts of the same layer share one unpack.
   */
  expectedDiffID?: string;
  signal?: AbortSignal;
}

export interface PutResult {
  layer: LayerRecord;
  /** True when the layer was already stored and nothing new was unpacked. */
  existed: boolean;
}

const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

function checkDigest(d: string, what: string): string {
  if (!DIGEST_RE.test(d)) throw new EngineError('invalid-argument', `invalid ${what} ${JSON.stringify(d)}`);
  return d;
}

/** The chain ID of a layer with DiffID `diffID` on top of the layer `parent` (a chain ID or null). */
export function chainID(parent: string | null, diffID: string): string {
  checkDigest(diffID, 'diff ID');
  if (parent === null) return diffID;
  checkDigest(parent, 'chain ID');
  return `sha256:${createHash('sha256').update(`${parent} ${diffID}`).digest('hex')}`;
}

/** Chain IDs of a whole stack of DiffIDs (bottom first), in the same order. */
export function chainIDs(diffIDs: readonly string[]): string[] {
  const out: string[] = [];
  let parent: string | null = null;
  for (const d of diffIDs) {
    parent = chainID(parent, d);
    out.push(parent);
  }
  return out;
}

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** A 26-character name for a chain ID (130 bits of it), for lowerdir stacks within the mount data limit. */
export function shortLinkName(chain: string): string {
  const bytes = Buffer.from(checkDigest(chain, 'chain ID').slice(7), 'hex');
  let bits = 0;
  let acc = 0;
  let out = '';
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5 && out.length < 26) {
      out += B32[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
    if (out.length >= 26) break;
  }
  return out;
}

function isErrno(e: unknown, code: string): boolean {
  return (e as NodeJS.ErrnoException)?.code === code;
}

export class LayerStore {
  private readonly layers = new Map<string, LayerRecord>();
  private readonly children = new Map<string, Set<string>>();
  private readonly inflight = new Map<string, Promise<PutResult>>();

  private constructor(readonly dir: string) {}

  /**
   * Opens (creating if needed) the layer store under `storageRoot`, removing leftovers of
   * interrupted unpacks and removals.
   */
  static async open(storageRoot: string): Promise<LayerStore> {
    const dir = path.join(path.resolve(storageRoot), 'layers');
    await fs.promises.mkdir(path.join(dir, 'l'), { recursive: true, mode: 0o700 });
    await removeTempLeftovers(dir);
    const store = new LayerStore(dir);
    for (const name of await fs.promises.readdir(dir)) {
      if (!/^[0-9a-f]{64}$/.test(name)) continue;
      let rec: LayerRecord | undefined;
      try {
        rec = JSON.parse(await fs.promises.readFile(path.join(dir, name, 'layer.json'), 'utf8')) as LayerRecord;
        if (rec.chainID !== `sha256:${name}`) rec = undefined;
      } catch {
        rec = undefined;
      }
      if (!rec) {
        // Not something this store renamed into place whole: throw it away.
        await store.discard(name);
        continue;
      }
      store.index(rec);
    }
    // Layers whose parent is gone cannot be used (lowerDirs would fail): keep them, they are
    // still removable, but make sure every link exists.
    for (const rec of store.layers.values()) store.ensureLink(rec.chainID);
    return store;
  }

  private index(rec: LayerRecord): void {
    this.layers.set(rec.chainID, rec);
    if (rec.parent) {
      let set = this.children.get(rec.parent);
      if (!set) this.children.set(rec.parent, (set = new Set()));
      set.add(rec.chainID);
    }
  }

  private async discard(name: string): Promise<void> {
    const tmp = path.join(this.dir, `${TEMP_PREFIX}rm-${name.slice(0, 12)}-${randomBytes(4).toString('hex')}`);
    try {
      await fs.promises.rename(path.join(this.dir, name), tmp);
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return;
      throw e;
    }
    await fs.promises.rm(tmp, { recursive: true, force: true });
  }

  private ensureLink(chain: string): void {
    const link = path.join(this.dir, 'l', shortLinkName(chain));
    const want = `../${chain.slice(7)}/diff`;
    try {
      if (fs.readlinkSync(link) === want) return;
      fs.unlinkSync(link);
    } catch (e) {
      if (!isErrno(e, 'ENOENT')) throw e;
    }
    fs.symlinkSync(want, link);
  }

  has(chain: string): boolean {
    return this.layers.has(chain);
  }

  get(chain: string): LayerRecord | undefined {
    return this.layers.get(chain);
  }

  list(): LayerRecord[] {
    return [...this.layers.values()];
  }

  /** Chain IDs of the layers stored directly on top of `chain`. */
  childrenOf(chain: string): string[] {
    return [...(this.children.get(chain) ?? [])];
  }

  /** The record of `chain`, or not-found. */
  require(chain: string): LayerRecord {
    const rec = this.layers.get(chain);
    if (!rec) throw new EngineError('not-found', `layer ${chain} not known`);
    return rec;
  }

  /** The layer and everything below it, top first. */
  stack(chain: string): LayerRecord[] {
    const out: LayerRecord[] = [];
    let cur: string | null = chain;
    while (cur) {
      const rec = this.require(cur);
      out.push(rec);
      cur = rec.parent;
    }
    return out;
  }

  /** The directory holding the layer's files. */
  diffDir(chain: string): string {
    return path.join(this.dir, this.require(chain).chainID.slice(7), 'diff');
  }

  /** The overlayfs lowerdir stack for a rootfs whose top layer is `chain`: top first. */
  lowerDirs(chain: string): string[] {
    return this.stack(chain).map((r) => path.join(this.dir, r.chainID.slice(7), 'diff'));
  }

  /** The same stack through the short l/ links (for stacks too long for the mount data page). */
  lowerLinks(chain: string): string[] {
    return this.stack(chain).map((r) => path.join(this.dir, 'l', shortLinkName(r.chainID)));
  }

  /**
   * Unpacks a layer (gzip, zstd or plain tar) on top of `parent` (a chain ID, or null for a base
   * layer) and stores it under its chain ID. A layer already stored is not stored again.
   */
  async put(input: AsyncIterable<Buffer>, parent: string | null, options: PutOptions = {}): Promise<PutResult> {
    if (parent !== null) this.require(parent);
    if (options.expectedDiffID) {
      const chain = chainID(parent, options.expectedDiffID);
      const existing = this.layers.get(chain);
      if (existing) return { layer: existing, existed: true };
      const running = this.inflight.get(chain);
      if (running) return running.then((r) => ({ layer: r.layer, existed: true }));
      const p = this.unpackAndStore(input, parent, options);
      this.inflight.set(chain, p);
      try {
        return await p;
      } finally {
        this.inflight.delete(chain);
      }
    }
    return this.unpackAndStore(input, parent, options);
  }

  private async unpackAndStore(input: AsyncIterable<Buffer>, parent: string | null, options: PutOptions): Promise<PutResult> {
    const tmp = makeTempDir(this.dir);
    let renamed = false;
    try {
      const result = await unpackLayer(input, path.join(tmp, 'diff'), { signal: options.signal });
      if (options.expectedDiffID && result.diffID !== options.expectedDiffID) {
        throw new EngineError('invalid-argument', `layer content has diff ID ${result.diffID}, expected ${options.expectedDiffID}`);
      }
      const chain = chainID(parent, result.diffID);
      const existing = this.layers.get(chain);
      if (existing) return { layer: existing, existed: true };
      if (parent !== null && !this.layers.has(parent)) throw new EngineError('not-found', `parent layer ${parent} was removed`);
      const rec: LayerRecord = {
        chainID: chain,
        diffID: result.diffID,
        parent,
        size: result.size,
        uncompressedSize: result.uncompressedSize,
        compressedDigest: result.compressedDigest,
        compressedSize: result.compressedSize,
        compression: result.compression,
        created: new Date().toISOString(),
      };
      await fs.promises.writeFile(path.join(tmp, 'layer.json'), JSON.stringify(rec, null, 1) + '\n', { mode: 0o600 });
      await fs.promises.chmod(tmp, 0o700);
      try {
        await fs.promises.rename(tmp, path.join(this.dir, chain.slice(7)));
        renamed = true;
      } catch (e) {
        if (!isErrno(e, 'ENOTEMPTY') && !isErrno(e, 'EEXIST')) throw e;
        // Stored meanwhile by another put (or another process): keep that one.
        const other = this.layers.get(chain);
        if (other) return { layer: other, existed: true };
        const onDisk = JSON.parse(await fs.promises.readFile(path.join(this.dir, chain.slice(7), 'layer.json'), 'utf8')) as LayerRecord;
        this.index(onDisk);
        this.ensureLink(chain);
        return { layer: onDisk, existed: true };
      }
      this.index(rec);
      this.ensureLink(chain);
      return { layer: rec, existed: false };
    } finally {
      if (!renamed) await fs.promises.rm(tmp, { recursive: true, force: true });
    }
  }

  /**
   * Removes a layer. Refused (conflict) while another layer sits on it; whether images or
   * containers still use it is the caller's to decide.
   */
  async remove(chain: string): Promise<void> {
    const rec = this.require(chain);
    const kids = this.children.get(chain);
    if (kids && kids.size > 0) {
      throw new EngineError('conflict', `layer ${chain} is in use by ${kids.size} other layer(s)`);
    }
    this.layers.delete(chain);
    if (rec.parent) {
      const set = this.children.get(rec.parent);
      set?.delete(chain);
      if (set && set.size === 0) this.children.delete(rec.parent);
    }
    try {
      fs.unlinkSync(path.join(this.dir, 'l', shortLinkName(chain)));
    } catch (e) {
      if (!isErrno(e, 'ENOENT')) throw e;
    }
    await this.discard(chain.slice(7));
  }
}
