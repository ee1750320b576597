// Compat operations on images (and commit, build, distribution).
import type { Context } from 'koa';
import { Readable } from 'node:stream';
import type { operations } from '../../generated/docker.js';
import { EngineError } from '../../engine/errors.js';
import type { ImageRemoveReport, ImageSummaryReport } from '../../engine/images/api.js';
import { sendJson, stringifyJson } from '../../server/respond.js';
import { streamJsonLines } from '../../server/stream.js';
import {
  familiar,
  toDockerDeleteItems,
  toDockerImageInspect,
  toDockerImageSummary,
  toDockerPruneReport,
  toHistory,
} from '../convert/images.js';
import { parseFilters } from '../filters.js';
import { pullFromImage, registryHandlers } from './images-registry.js';
import { notImplemented, type HandlerTable } from '../types.js';

type Ops = Pick<operations, 
  | "ImageList"
  | "ImageBuild"
  | "BuildPrune"
  | "ImageCreate"
  | "ImageInspect"
  | "ImageHistory"
  | "ImagePush"
  | "ImageTag"
  | "ImageDelete"
  | "ImageSearch"
  | "ImagePrune"
  | "ImageCommit"
  | "ImageGet"
  | "ImageGetAll"
  | "ImageLoad"
  | "DistributionInspect"
>;

const serialised = new WeakMap<object, Map<unknown, string>>();

/**
 * Answers 200 with `source` converted and serialised, reusing the text when the engine hands
 * back the same (unchanged, memoised, frozen) report object. `convert` must be a module-level
 * function: it is part of the memo key.
 */
export function sendMemoJson<T extends object>(ctx: Context, source: T, convert: (s: T) => unknown): void {
  let texts = serialised.get(source);
  let text = texts?.get(convert);
  if (text === undefined) {
    text = stringifyJson(convert(source)) + '\n';
    if (Object.isFrozen(source)) {
      if (!texts) serialised.set(source, (texts = new Map()));
      texts.set(convert, text);
    }
  }
  ctx.status = 200;
  ctx.set('Content-Type', 'application/json');
  ctx.body = text;
}

/** Answers with a tar stream (save/export); an error after the first byte cuts the connection. */
export function sendTar(ctx: Context, tar: AsyncIterable<Buffer>): void {
  ctx.status = 200;
  ctx.type = 'application/x-tar';
  ctx.body = Readable.from(tar, { objectMode: false });
}

/** An empty answer with `status` (tag, untag: 201). */
export function sendEmpty(ctx: Context, status: number): void {
  ctx.status = status;
  ctx.body = '';
}

/** The request body (load, import) as chunks, read as they arrive. */
export function requestBody(ctx: Context): AsyncIterable<Buffer> {
  return ctx.req as AsyncIterable<Buffer>;
}

/** The first error of a one-image removal, thrown (404, 409, ...), or the report. */
export function oneRemoval(report: ImageRemoveReport): ImageRemoveReport {
  const err = report.errors[0];
  if (err) throw new EngineError(err.kind as EngineError['kind'], err.message);
  return report;
}

/** "repo" + "tag" query values as one reference (a digest "tag" makes repo@digest). */
export function joinRepoTag(repo: string, tag: string | undefined): string {
  if (!tag) return repo;
  return /^[a-z0-9]+:[0-9a-f]{32,}$/.test(tag) ? `${repo}@${tag}` : `${repo}:${tag}`;
}

const dockerList = (l: ImageSummaryReport[]) => l.map(toDockerImageSummary);

async function* once<T>(items: T[]): AsyncGenerator<T> {
  for (const i of items) yield i;
}

export const imagesHandlers: HandlerTable<Ops> = {
  ...notImplemented([
    "ImageBuild",
    "BuildPrune",
  ] as const),
  // POST /commit: a new image from a container's changes. `changes` may be repeated (one
  // Dockerfile instruction each), so it is read from the raw query.
  ImageCommit: async ({ engine, query, ctx }) => {
    if (!query.container) throw new EngineError('invalid-argument', 'container is required', undefined, 'bad parameter');
    const changes = new URLSearchParams(ctx.querystring).getAll('changes').flatMap((c) => c.split('\n')).filter(Boolean);
    const { id } = await engine.containerCommit(query.container, {
      reference: query.repo ? joinRepoTag(query.repo, query.tag) : undefined,
      author: query.author,
      message: query.comment,
      changes,
      pause: query.pause,
      nameStyle: 'docker',
    });
    sendJson(ctx, { Id: `sha256:${id}` }, 201);
  },
  ImagePush: registryHandlers.ImagePush,
  ImageSearch: registryHandlers.ImageSearch,
  DistributionInspect: registryHandlers.DistributionInspect,

  ImageList: async ({ engine, query, ctx }) => {
    const list = await engine.imageList({ all: query.all, filters: parseFilters(query.filters) });
    sendMemoJson(ctx, list, dockerList);
  },

  ImageInspect: async ({ engine, path }) => toDockerImageInspect(await engine.imageInspect(path.name)),

  ImageHistory: async ({ engine, path }) => toHistory(await engine.imageHistory(path.name), true),

  ImageTag: async ({ engine, path, query, ctx }) => {
    if (!query.repo) throw new EngineError('invalid-argument', 'repo parameter is required to tag an image');
    await engine.imageTag(path.name, joinRepoTag(query.repo, query.tag || 'latest'), 'docker');
    sendEmpty(ctx, 201);
  },

  ImageDelete: async ({ engine, path, query }) => {
    const report = oneRemoval(await engine.imageRemove([path.name], { force: query.force, noprune: query.noprune }));
    return toDockerDeleteItems(report);
  },

  ImagePrune: async ({ engine, query }) => toDockerPruneReport(await engine.imagePrune({ filters: parseFilters(query.filters) })),

  ImageGet: async ({ engine, path, ctx, signal }) => {
    sendTar(ctx, await engine.imageSave([path.name], { format: 'docker-archive', nameStyle: 'docker', signal }));
  },

  ImageGetAll: async ({ engine, query, ctx, signal }) => {
    const names = query.names ?? [];
    if (names.length === 0) throw new EngineError('invalid-argument', 'no images to download');
    sendTar(ctx, await engine.imageSave(names, { format: 'docker-archive', multiImage: true, nameStyle: 'docker', signal }));
  },

  ImageLoad: async (req) => {
    const report = await req.engine.imageLoad(requestBody(req.ctx), { signal: req.signal });
    const lines = report.images.flatMap((img) =>
      img.names.length > 0 ? img.names.map((n) => ({ stream: `Loaded image: ${familiar(n)}\n` })) : [{ stream: `Loaded image ID: sha256:${img.id}\n` }],
    );
    await streamJsonLines(req.ctx, once(lines), req.signal);
  },

  ImageCreate: async (req) => {
    const { query } = req;
    if (query.fromImage !== undefined && query.fromImage !== '') {
      return pullFromImage(req);
    }
    if (query.fromSrc === undefined || query.fromSrc === '') throw new EngineError('invalid-argument', 'fromImage or fromSrc is required');
    const [os, architecture, variant] = (query.platform ?? '').split('/');
    const report = await req.engine.imageImport(query.fromSrc === '-' ? requestBody(req.ctx) : undefined, {
      url: query.fromSrc === '-' ? undefined : query.fromSrc,
      reference: query.repo ? joinRepoTag(query.repo, query.tag) : undefined,
      changes: query.changes,
      message: query.message,
      os: os || undefined,
      architecture: architecture || undefined,
      variant: variant || undefined,
      nameStyle: 'docker',
      signal: req.signal,
    });
    await streamJsonLines(req.ctx, once([{ status: `sha256:${report.id}` }]), req.signal);
  },
};
