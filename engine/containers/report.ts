// ContainerReport assembly (inspect and list) and the list filters. List works on the records
// the store keeps in memory: no query, no file access, unless sizes are asked for.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { EngineError } from '../errors.js';
import { parseEventTime } from '../events/time.js';
import type { ContainerListOptions, ContainerReport } from './api.js';
import type { Layout } from './layout.js';
import { containerHostname } from './rootfs.js';
import { parseTimeNano, type ContainerRecord, type ContainerStatus } from './types.js';

export function toReport(layout: Layout, rec: ContainerRecord, execIds: string[] = []): ContainerReport {
  const id = rec.id;
  return {
    id,
    name: rec.name,
    created: rec.created,
    spec: rec.spec,
    state: rec.state,
    hostname: containerHostname(rec),
    paths: {
      rootfs: layout.merged(id),
      upperDir: layout.upper(id),
      workDir: layout.work(id),
      logPath: layout.logPath(id),
      hostsPath: layout.hostsPath(id),
      hostnamePath: layout.hostnamePath(id),
      resolvConfPath: layout.resolvConfPath(id),
      bundle: layout.bundle(id),
      configPath: layout.configPath(id),
      conmonPidFile: layout.conmonPidFile(id),
      pidFile: layout.pidFile(id),
      userdata: layout.userdata(id),
    },
    execIds,
  };
}

/** Bytes used by the files under `dir` (regular files by size, others by nothing). */
export async function duBytes(dir: string): Promise<number> {
  let total = 0;
  const walk = async (d: string): Promise<void> => {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await fsp.readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) total += await fsp.lstat(p).then((s) => s.size, () => 0);
    }
  };
  await walk(dir);
  return total;
}

/** The Docker status word of a state. */
export function dockerStatus(s: ContainerStatus): string {
  switch (s) {
    case 'initialized':
      return 'created';
    case 'stopping':
      return 'running';
    default:
      return s;
  }
}

const STATUS_VALUES = new Set(['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead', 'configured', 'stopped', 'stopping', 'unknown', 'initialized']);

type Pred = (rec: ContainerRecord) => boolean;

function labelMatch(labels: Record<string, string>, want: string): boolean {
  const eq = want.indexOf('=');
  if (eq < 0) return want in labels;
  return labels[want.slice(0, eq)] === want.slice(eq + 1);
}

function portMatch(keys: string[], want: string): boolean {
  const w = want.includes('/') ? want : `${want}/tcp`;
  const [range, proto] = w.split('/') as [string, string];
  const [lo, hi] = range.split('-').map(Number) as [number, number | undefined];
  return keys.some((k) => {
    const [p, pr] = k.split('/') as [string, string];
    const n = Number(p);
    return (pr ?? 'tcp') === proto && (hi === undefined ? n === lo : n >= lo && n <= hi);
  });
}

/**
 * Compiles Docker/Podman container filters. `resolve` finds other containers (before/since);
 * `imageMatches` tells whether an image reference names a container's image (ancestor).
 */
export function compileListFilters(
  filters: Record<string, string[]>,
  ctx: { resolve: (ref: string) => ContainerRecord; imageMatches?: (rec: ContainerRecord, ref: string) => boolean },
): Pred {
  const preds: Pred[] = [];
  for (const [key, values] of Object.entries(filters)) {
    if (!values.length) continue;
    const any = (f: (v: string) => Pred): Pred => {
      const ps = values.map(f);
      return (r) => ps.some((p) => p(r));
    };
    switch (key) {
      case 'id':
        preds.push(any((v) => (r) => r.id.startsWith(v)));
        break;
      case 'name':
        preds.push(
          any((v) => {
            let re: RegExp;
            try {
              re = new RegExp(v.startsWith('/') ? v.slice(1) : v);
            } catch {
              throw new EngineError('invalid-argument', `invalid name filter "${v}"`);
            }
            return (r) => re.test(r.name);
          }),
        );
        break;
      case 'label':
        preds.push((r) => values.every((v) => labelMatch(r.spec.labels, v)));
        break;
      case 'label!':
        preds.push((r) => values.every((v) => !labelMatch(r.spec.labels, v)));
        break;
      case 'status':
        for (const v of values) if (!STATUS_VALUES.has(v)) throw new EngineError('invalid-argument', `invalid filter "status=${v}": unknown status`);
        preds.push(
          any((v) => (r) => {
            const s = r.state.status;
            if (v === 'restarting' || v === 'dead' || v === 'unknown') return false;
            if (v === 'configured') return s === 'created';
            if (v === 'stopped') return s === 'exited';
            if (v === 'initialized') return s === 'initialized';
            return dockerStatus(s) === v || s === v;
          }),
        );
        break;
      case 'exited':
        for (const v of values) if (!/^-?\d+$/.test(v)) throw new EngineError('invalid-argument', `invalid filter "exited=${v}": not an exit code`);
        preds.push(any((v) => (r) => r.state.status === 'exited' && r.state.exitCode === Number(v)));
        break;
      case 'ancestor':
        preds.push(any((v) => (r) => r.spec.imageId.startsWith(v.replace(/^sha256:/, '')) || r.spec.image === v || r.spec.imageName === v || (ctx.imageMatches?.(r, v) ?? false)));
        break;
      case 'before': {
        const refs = values.map((v) => parseTimeNano(ctx.resolve(v).created));
        preds.push((r) => refs.every((t) => parseTimeNano(r.created) < t));
        break;
      }
      case 'since': {
        const refs = values.map((v) => parseTimeNano(ctx.resolve(v).created));
        preds.push((r) => refs.every((t) => parseTimeNano(r.created) > t));
        break;
      }
      case 'until': {
        const ts = values.map((v) => parseEventTime(v));
        preds.push((r) => ts.every((t) => parseTimeNano(r.created) <= t));
        break;
      }
      case 'volume':
        preds.push(any((v) => (r) => r.spec.mounts.some((m) => m.source === v || m.destination === v)));
        break;
      case 'network':
        preds.push(any((v) => (r) => r.spec.networkMode === v || r.spec.networks.includes(v) || (v === 'bridge' && r.spec.networkMode === 'bridge') || (v === 'podman' && r.spec.networkMode === 'bridge')));
        break;
      case 'publish':
        preds.push(any((v) => (r) => portMatch(Object.keys(r.spec.portBindings), v)));
        break;
      case 'expose':
        preds.push(any((v) => (r) => portMatch(Object.keys(r.spec.exposedPorts), v)));
        break;
      case 'health':
        for (const v of values) if (!['starting', 'healthy', 'unhealthy', 'none'].includes(v)) throw new EngineError('invalid-argument', `invalid filter "health=${v}"`);
        preds.push(any((v) => (r) => (v === 'none' ? !r.spec.healthcheck : r.state.health?.status === v)));
        break;
      case 'pod':
        // Pods come with the pods domain: no container is in one yet.
        preds.push(() => false);
        break;
      case 'is-task':
        preds.push(any((v) => () => v === 'false'));
        break;
      case 'restart-policy':
        preds.push(any((v) => (r) => r.spec.restartPolicy.name === v));
        break;
      default:
        throw new EngineError('invalid-argument', `invalid filter "${key}": unknown filter`, undefined, 'invalid argument');
    }
  }
  return (r) => preds.every((p) => p(r));
}

/** Applies all/limit/filters to the records, newest first. */
export function selectContainers(records: ContainerRecord[], o: ContainerListOptions, pred: Pred): ContainerRecord[] {
  const all = o.all || (o.limit !== undefined && o.limit > 0) || Object.keys(o.filters ?? {}).some((k) => k === 'status' || k === 'exited');
  const out = records.filter((r) => (all || r.state.status === 'running' || r.state.status === 'paused' || r.state.status === 'stopping') && pred(r));
  out.sort((a, b) => (a.created < b.created ? 1 : a.created > b.created ? -1 : 0));
  return o.limit !== undefined && o.limit > 0 ? out.slice(0, o.limit) : out;
}
