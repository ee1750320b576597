// Libpod operations on images (and commit, build, distribution).
import type { operations } from '../../generated/libpod.js';
import { EngineError } from '../../engine/errors.js';
import type { ImageSaveFormat, ImageSummaryReport } from '../../engine/images/api.js';
import { joinRepoTag, oneRemoval, requestBody, sendEmpty, sendMemoJson, sendTar } from '../compat/images.js';
import { toHistory, toLibpodChanges, toLibpodImageData, toLibpodImageSummary, toLibpodPruneReport, toLibpodRemoveReport } from '../convert/images.js';
import { sendJson } from '../../server/respond.js';
import { parseFilters } from '../filters.js';
import { registryHandlers } from './images-registry.js';
import { notImplemented, type HandlerTable } from '../types.js';

type Ops = Pick<operations, 
  | "ImageBuildLibpod"
  | "ImageCommitLibpod"
  | "ImageDeleteLibpod"
  | "ImageChangesLibpod"
  | "ImageExistsLibpod"
  | "ImageGetLibpod"
  | "ImageHistoryLibpod"
  | "ImageInspectLibpod"
  | "ImagePushLibpod"
  | "ImageResolveLibpod"
  | "ImageTagLibpod"
  | "ImageTreeLibpod"
  | "ImageUntagLibpod"
  | "ImageExportLibpod"
  | "ImageImportLibpod"
  | "ImageListLibpod"
  | "ImageLoadLibpod"
  | "ImagePruneLibpod"
  | "ImagePullLibpod"
  | "ImageDeleteAllLibpod"
  | "ImageScpLibpod"
  | "ImageSearchLibpod"
>;

const FORMATS: readonly ImageSaveFormat[] = ['docker-archive', 'oci-archive', 'oci-dir', 'docker-dir'];

function saveFormat(format: string | undefined): ImageSaveFormat {
  const f = format || 'oci-archive';
  if (!(FORMATS as readonly string[]).includes(f)) throw new EngineError('invalid-argument', `unknown format "${f}": use one of ${FORMATS.join(', ')}`);
  return f as ImageSaveFormat;
}

const libpodList = (l: ImageSummaryReport[]) => l.map(toLibpodImageSummary);

/** libpod commit's `format`: oci (Podman's default) or docker. */
function commitFormat(f: string | undefined): 'oci' | 'docker' {
  if (f === undefined || f === '' || f === 'oci') return 'oci';
  if (f === 'docker') return 'docker';
  throw new EngineError('invalid-argument', `unrecognized image format ${JSON.stringify(f)}`);
}

export const imagesHandlers: HandlerTable<Ops> = {
  ...notImplemented([
    "ImageBuildLibpod",
    "ImageScpLibpod",
  ] as const),
  ...registryHandlers,
  ImageChangesLibpod: async ({ engine, path, query, ctx }) => {
    sendJson(ctx, toLibpodChanges(await engine.changes(path.name, { parent: query.parent || undefined, diffType: query.diffType })));
  },
  // Podman answers 200 with {Names} (the spec's 204 is wrong: see spec/overlays/libpod.json).
  ImageResolveLibpod: async ({ engine, path }) => ({ Names: await engine.imageResolve(path.name) }),
  ImageCommitLibpod: async ({ engine, query, ctx }) => {
    if (!query.container) throw new EngineError('invalid-argument', 'container is required', undefined, 'bad parameter');
    const { id } = await engine.containerCommit(query.container, {
      reference: query.repo ? joinRepoTag(query.repo, query.tag) : undefined,
      author: query.author,
      message: query.comment,
      changes: (query.changes ?? []).flatMap((c) => c.split('\n')).filter(Boolean),
      pause: query.pause ?? false, // Podman's libpod default; compat pauses unless told not to
      nameStyle: 'podman',
      format: commitFormat(query.format),
    });
    sendJson(ctx, { Id: id }, 201);
  },

  ImageListLibpod: async ({ engine, query, ctx }) => {
    const list = await engine.imageList({ all: query.all, filters: parseFilters(query.filters) });
    sendMemoJson(ctx, list, libpodList);
  },

  ImageInspectLibpod: async ({ engine, path }) => toLibpodImageData(await engine.imageInspect(path.name)),

  ImageExistsLibpod: async ({ engine, path, ctx }) => {
    if (!(await engine.imageExists(path.name))) throw new EngineError('not-found', `failed to find image ${path.name}: ${path.name}: image not known`, undefined, 'image not known');
    sendEmpty(ctx, 204);
  },

  ImageHistoryLibpod: async ({ engine, path }) => toHistory(await engine.imageHistory(path.name), false),

  ImageTreeLibpod: async ({ engine, path, query }) => ({ Tree: await engine.imageTree(path.name, Boolean(query.whatrequires)) }),

  ImageTagLibpod: async ({ engine, path, query, ctx }) => {
    if (!query.repo) throw new EngineError('invalid-argument', 'repo parameter is required to tag an image');
    await engine.imageTag(path.name, joinRepoTag(query.repo, query.tag || 'latest'), 'podman');
    sendEmpty(ctx, 201);
  },

  ImageUntagLibpod: async ({ engine, path, query, ctx }) => {
    if (!query.repo && query.tag) throw new EngineError('invalid-argument', 'repo parameter is required to tag an image');
    await engine.imageUntag(path.name, query.repo ? joinRepoTag(query.repo, query.tag || 'latest') : undefined, 'podman');
    sendEmpty(ctx, 201);
  },

  ImageDeleteLibpod: async ({ engine, path, query }) => {
    const report = oneRemoval(await engine.imageRemove([path.name], { force: query.force, removeContainers: true }));
    return toLibpodRemoveReport(report);
  },

  ImageDeleteAllLibpod: async ({ engine, query }) => {
    const report = await engine.imageRemove(query.images ?? [], { all: query.all, force: query.force, ignore: query.ignore, removeContainers: true });
    return toLibpodRemoveReport(report);
  },

  ImagePruneLibpod: async ({ engine, query }) => {
    const filters = parseFilters(query.filters);
    let all = Boolean(query.all);
    if (filters.all?.length) {
      all = /^(1|t|true)$/i.test(filters.all[0]!);
      delete filters.all;
    }
    delete filters.dangling;
    return toLibpodPruneReport(await engine.imagePrune({ all, filters }));
  },

  ImageLoadLibpod: async ({ engine, ctx, signal }) => {
    const report = await engine.imageLoad(requestBody(ctx), { signal });
    return { Names: report.images.flatMap((img) => (img.names.length > 0 ? img.names : [`sha256:${img.id}`])) };
  },

  ImageImportLibpod: async ({ engine, query, ctx, signal }) => {
    const report = await engine.imageImport(query.url ? undefined : requestBody(ctx), {
      url: query.url || undefined,
      reference: query.reference || undefined,
      changes: query.changes,
      message: query.message,
      nameStyle: 'podman',
      signal,
    });
    return { Id: `sha256:${report.id}` };
  },

  ImageGetLibpod: async ({ engine, path, query, ctx, signal }) => {
    const format = saveFormat(query.format);
    sendTar(ctx, await engine.imageSave([path.name], { format, compress: query.compress, nameStyle: 'podman', signal }));
  },

  ImageExportLibpod: async ({ engine, query, ctx, signal }) => {
    const refs = query.references ?? [];
    if (refs.length === 0) throw new EngineError('invalid-argument', 'no references');
    const format = saveFormat(query.format);
    if (refs.length > 1 && format !== 'docker-archive' && format !== 'oci-archive') {
      throw new EngineError('invalid-argument', `multi-image archives must use format of docker-archive or oci-archive`);
    }
    sendTar(ctx, await engine.imageSave(refs, { format, compress: query.compress, multiImage: refs.length > 1, nameStyle: 'podman', signal }));
  },
};
