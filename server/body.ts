// Reads a JSON request body for operations whose body is JSON. Streamed bodies (tar uploads)
// are never read here: their handlers pipe ctx.req themselves.
import type { Context } from 'koa';
import { invalidArgument } from '../engine/errors.js';

const LIMIT = 16 * 1024 * 1024;

export async function readJsonBody(ctx: Context): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > LIMIT) throw invalidArgument(`request body larger than ${LIMIT} bytes`);
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  const text = Buffer.concat(chunks, size).toString('utf8');
  if (!text.trim()) return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw invalidArgument(`request body is not valid JSON: ${(err as Error).message}`);
  }
}

/**
 * Reads a raw request body (a secret's data) up to `limit` bytes. A larger body is refused,
 * and the rest of it drained so that the client reads the error answer.
 */
export async function readRawBody(ctx: Context, limit = LIMIT): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      ctx.req.resume();
      throw invalidArgument(`request body larger than ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}
