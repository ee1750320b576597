// Image removal as Podman's libimage does it: a name of an image with several names only
// untags it; an ID or digest of such an image needs force; an image a container uses is refused
// (or its containers removed, when the caller allows that); once removed, its parent goes too if
// that leaves the parent dangling (unless noprune). Layers and blobs no image uses are freed.
import { EngineError } from '../errors.js';
import type { EventLog } from '../events/event-log.js';
import { isDangling } from './image-index.js';
import type { ImageStore, LookupResult } from './image-store.js';

export interface RemoveImagesOptions {
  /** Remove an image with several names by ID or digest; remove containers (when allowed). */
  force?: boolean;
  /** With force: remove the containers that use the image (Libpod); compat never does. */
  removeContainers?: boolean;
  /** Keep dangling parents. */
  noprune?: boolean;
  /** Names that are not found are not errors. */
  ignore?: boolean;
}

export interface RemovedImage {
  id: string;
  /** Layer bytes freed by removing it. */
  freed: number;
  /** False when the record went but a child image still holds its layers. */
  removed: boolean;
}

export interface RemoveImagesReport {
  untagged: string[];
  removed: RemovedImage[];
  errors: EngineError[];
}

interface Work {
  report: RemoveImagesReport;
  done: Set<string>;
  options: RemoveImagesOptions;
  containers: Map<string, string[]>;
}

export class ImageRemover {
  constructor(
    private readonly store: ImageStore,
    private readonly events: EventLog,
  ) {}

  /** Removes images by reference; lookup failures and refusals are collected per name. */
  async removeByName(names: string[], options: RemoveImagesOptions): Promise<RemoveImagesReport> {
    const report: RemoveImagesReport = { untagged: [], removed: [], errors: [] };
    const targets = new Map<string, { found: LookupResult; refs: string[] }>();
    for (const name of names) {
      let found: LookupResult;
      try {
        found = this.store.lookup(name);
      } catch (e) {
        if (options.ignore && e instanceof EngineError && e.kind === 'not-found') continue;
        report.errors.push(asEngineError(e));
        continue;
      }
      const t = targets.get(found.record.id) ?? { found, refs: [] };
      t.refs.push(found.byId ? `id:${name}` : found.byDigest ? `digest:${name}` : (found.name ?? name));
      targets.set(found.record.id, t);
    }
    const work: Work = { report, done: new Set(), options, containers: await this.store.containersByImage() };
    for (const [id, t] of targets) {
      for (const ref of t.refs) {
        try {
          await this.removeOne(work, id, ref);
        } catch (e) {
          report.errors.push(asEngineError(e));
        }
      }
    }
    return report;
  }

  /** Removes images outright (prune, remove --all): every name goes. */
  async removeIds(ids: string[], options: RemoveImagesOptions): Promise<RemoveImagesReport> {
    const report: RemoveImagesReport = { untagged: [], removed: [], errors: [] };
    const work: Work = { report, done: new Set(), options, containers: await this.store.containersByImage() };
    for (const id of ids) {
      try {
        await this.removeOne(work, id, '');
      } catch (e) {
        report.errors.push(asEngineError(e));
      }
    }
    return report;
  }

  /**
   * `ref` is "" (remove outright), "id:<input>", "digest:<input>", or the full name the image
   * was found by.
   */
  private async removeOne(work: Work, id: string, ref: string): Promise<void> {
    if (work.done.has(id)) return;
    const rec = this.store.index().byId.get(id);
    if (!rec) return;
    if (rec.readOnly) throw new EngineError('forbidden', `cannot remove read-only image "${id}"`);
    const { force } = work.options;
    const byId = ref.startsWith('id:');
    const byDigest = ref.startsWith('digest:');
    if (ref !== '' && rec.names.length !== 1) {
      if (!force && rec.names.length > 1) {
        if (byId) throw new EngineError('conflict', `unable to delete image "${id}" by ID with more than one tag (${formatNames(rec.names)}): please force removal`);
        if (byDigest) throw new EngineError('conflict', `unable to delete image "${id}" by digest with more than one tag (${formatNames(rec.names)}): please force removal`);
      }
      if (!byId && !byDigest) {
        await this.store.removeName(id, ref);
        work.report.untagged.push(ref);
        await this.events.append({ type: 'image', action: 'untag', id, name: ref });
        if (rec.names.length - 1 > 0) return;
      }
    }
    const users = work.containers.get(id) ?? [];
    if (users.length > 0) {
      const usage = this.store.usage;
      if (!(force && work.options.removeContainers && usage?.removeContainers)) {
        throw new EngineError(
          'conflict',
          `image used by ${users.join(', ')}: image is in use by a container: consider listing external containers and force-removing image`,
          undefined,
          'image is in use by a container',
        );
      }
      await usage.removeContainers(users);
      work.containers.delete(id);
    }
    const before = this.store.index();
    const hasChildren = (before.children.get(id)?.length ?? 0) > 0;
    const parent = before.parent.get(id);
    const current = before.byId.get(id);
    if (!current) return;
    const freed = await this.store.deleteRecord(id);
    work.done.add(id);
    for (const name of current.names) {
      work.report.untagged.push(name);
      await this.events.append({ type: 'image', action: 'untag', id, name });
    }
    work.report.removed.push({ id, freed, removed: !hasChildren });
    await this.events.append({ type: 'image', action: 'remove', id, name: ref.replace(/^(id|digest):/, '') || id });
    if (work.options.noprune || !parent) return;
    const after = this.store.index();
    const p = after.byId.get(parent);
    if (p && isDangling(after, p) && !(work.containers.get(parent)?.length)) await this.removeOne(work, parent, '');
  }
}

function formatNames(names: string[]): string {
  return `[${names.join(' ')}]`;
}

function asEngineError(e: unknown): EngineError {
  return e instanceof EngineError ? e : new EngineError('internal', e instanceof Error ? e.message : String(e), e);
}
