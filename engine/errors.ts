// Typed engine errors. The engine says what went wrong (a kind), never which HTTP status that
// is: server/errors.ts maps kinds to statuses in one place.
export type ErrorKind =
  | 'not-found'
  | 'invalid-argument'
  | 'conflict'
  | 'not-modified' // already in the requested state (start a running container, ...)
  | 'forbidden'
  | 'unauthorized'
  | 'unavailable'
  | 'not-implemented'
  | 'internal';

export class EngineError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    cause?: unknown,
    /** The innermost reason in a few words ("no such container"), shown as Libpod's `cause`. */
    readonly reason?: string,
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'EngineError';
  }
}

export const notFound = (message: string) => new EngineError('not-found', message);
export const invalidArgument = (message: string) => new EngineError('invalid-argument', message);
export const conflict = (message: string) => new EngineError('conflict', message);
export const notModified = (message: string) => new EngineError('not-modified', message);
