// Connections to a process's stdio through conmon's attach socket (engine/oci/attach.ts), for
// container attach and exec sessions: output as OutputChunks, stdin as a Writable that watches
// for the detach key sequence.
import { Transform, type Readable, type Writable } from 'node:stream';
import { EngineError } from '../errors.js';
import type { AttachFrame, AttachSession } from '../oci/attach.js';
import type { OutputChunk, StdioSession } from './api.js';

/** Bytes of a detach key spec ("ctrl-p,ctrl-q"); [] for "" (detaching disabled). */
export function parseDetachKeys(spec: string): number[] {
  if (spec === '') return [];
  const out: number[] = [];
  for (const key of spec.split(',')) {
    const k = key.trim();
    if (k.length === 1) out.push(k.charCodeAt(0));
    else if (/^ctrl-[a-z@[\\\]^_]$/i.test(k)) {
      const c = k.slice(5).toLowerCase();
      if (c >= 'a' && c <= 'z') out.push(c.charCodeAt(0) - 96);
      else out.push({ '@': 0, '[': 27, '\\': 28, ']': 29, '^': 30, _: 31 }[c]!);
    } else throw new EngineError('invalid-argument', `invalid detach keys "${spec}": use a comma-separated list of characters and ctrl-<x> keys`);
  }
  return out;
}

/**
 * Passes stdin through, calling `onDetach` when the key sequence is typed. Then the readable
 * side ends after the bytes typed before the keys (so that a pipe from it ends its destination
 * once those went through), and whatever comes after is dropped.
 */
export function detachFilter(keys: number[], onDetach: () => void): Transform {
  let matched = 0;
  let held: number[] = [];
  let detached = false;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (detached) return cb();
      if (!keys.length) return cb(null, chunk);
      const out: number[] = [];
      for (const b of chunk) {
        if (b === keys[matched]) {
          held.push(b);
          if (++matched === keys.length) {
            detached = true;
            if (out.length) this.push(Buffer.from(out));
            this.push(null);
            onDetach();
            return cb();
          }
          continue;
        }
        if (held.length) out.push(...held);
        held = [];
        matched = 0;
        if (b === keys[0]) {
          held.push(b);
          matched = 1;
        } else out.push(b);
      }
      cb(null, out.length ? Buffer.from(out) : undefined);
    },
  });
}

/** The relay's frames as OutputChunks, keeping only the wanted streams. */
export async function* relayOutput(output: Readable, want: { stdout: boolean; stderr: boolean }): AsyncGenerator<OutputChunk> {
  for await (const f of output as AsyncIterable<AttachFrame>) {
    if (f.stream === 'stdout' ? !want.stdout : !want.stderr) continue;
    yield { stream: f.stream, data: f.data };
  }
}

/**
 * A StdioSession over an attach relay, with optional log replay before the live output.
 *
 * close() (the client went away) and the detach keys end the output at once but let the relay
 * pass on the stdin bytes the client sent before (up to the end of `stdin`, which the caller
 * ends when the client's input ends), then the connection is dropped. To the container that is
 * what killing the relay was: conmon treats the end of a connection like a half-close, closing
 * the container's stdin unless it runs with --leave-stdin-open.
 */
export function stdioSession(
  relay: AttachSession | undefined,
  o: { tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean; detachKeys: number[]; before?: AsyncIterable<OutputChunk> },
): StdioSession {
  let detached = false;
  const close = () => {
    detached = true;
    // Without stdin nothing is pending: ending the relay's stdin lets it go at once.
    if (relay && !o.stdin) relay.stdin.end();
    relay?.finish();
  };
  let stdin: Writable | undefined;
  if (relay && o.stdin) {
    // On detach the filter ends after the bytes typed before the keys; the pipe then ends the
    // relay's stdin.
    const filter = detachFilter(o.detachKeys, close);
    filter.pipe(relay.stdin);
    relay.stdin.on('error', () => {});
    filter.on('error', () => {});
    stdin = filter;
  } else if (relay) {
    // Without stdin the relay's stdin stays open while the session lasts: ending it would
    // close the container's stdin (a half-close) while the output still flows.
  }
  async function* output(): AsyncGenerator<OutputChunk> {
    if (o.before) for await (const c of o.before) yield c;
    if (!relay) return;
    for await (const c of relayOutput(relay.output, o)) {
      if (detached) break;
      yield c;
    }
  }
  return { tty: o.tty, output: output(), ...(stdin ? { stdin } : {}), close };
}
