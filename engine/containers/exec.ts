// Exec sessions: records in the state database, processes under conmon's exec mode
// (engine/oci/exec.ts). A session is created, started once, and keeps its exit code until the
// container is removed.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { EngineError } from '../errors.js';
import { execDirect, execUnderConmon, ExecStartError, readExecExitCode, type DirectExecHandle } from '../oci/exec.js';
import { ALL_CAPABILITIES } from '../oci/runtime-spec.js';
import type { OciSpec, OciSpecProcess } from '../oci/spec-types.js';
import type { ExecCreateOptions, ExecReport, ExecStartOptions, ExecStartReport, OutputChunk, StdioSession } from './api.js';
import type { ContainerManager } from './manager.js';
import { newId } from './names.js';
import { resolveUser } from './rootfs.js';
import { mergeEnv } from './spec.js';
import { detachFilter, parseDetachKeys, stdioSession } from './stdio.js';
import { nowRfc3339Nano, type ExecRecord } from './types.js';

const noSuchExec = (id: string) => new EngineError('not-found', `no exec session with ID ${id} found: no such exec session`, undefined, 'no such exec session');

function mustBeRunning(m: ContainerManager, ref: string) {
  const rec = m.lookup(ref);
  if (rec.state.status !== 'running') {
    throw new EngineError('conflict', `can only create exec sessions on running containers: container state improper`, undefined, 'container state improper');
  }
  return rec;
}

export async function execCreate(m: ContainerManager, ref: string, o: ExecCreateOptions): Promise<string> {
  const rec = mustBeRunning(m, ref);
  if (!o.cmd?.length) throw new EngineError('invalid-argument', 'must provide a non-empty command to start an exec session', undefined, 'invalid argument');
  if (o.detachKeys) parseDetachKeys(o.detachKeys);
  for (const e of o.env ?? []) if (!e || e.startsWith('=')) throw new EngineError('invalid-argument', `invalid environment variable "${e}"`);
  if (o.workingDir && !o.workingDir.startsWith('/')) throw new EngineError('invalid-argument', `the working directory "${o.workingDir}" is not an absolute path`);
  const ex: ExecRecord = {
    id: newId(),
    containerId: rec.id,
    config: {
      cmd: o.cmd,
      env: o.env ?? [],
      user: o.user ?? '',
      workingDir: o.workingDir ?? '',
      tty: o.tty ?? false,
      privileged: o.privileged ?? false,
      attachStdin: o.attachStdin ?? false,
      attachStdout: o.attachStdout ?? true,
      attachStderr: o.attachStderr ?? true,
      detachKeys: o.detachKeys ?? '',
      ...(o.consoleSize ? { consoleSize: o.consoleSize } : {}),
    },
    running: false,
    exitCode: null,
    pid: 0,
    conmonPid: 0,
    started: false,
    created: nowRfc3339Nano(),
  };
  m.store.putExec(ex);
  await m.emit('exec_create', rec, { execID: ex.id });
  return ex.id;
}

/** The process spec for a session: the container's, with the session's command and settings. */
async function processFor(m: ContainerManager, containerId: string, ex: ExecRecord, tty: boolean): Promise<OciSpecProcess> {
  let spec: OciSpec;
  try {
    spec = JSON.parse(await fsp.readFile(m.layout.configPath(containerId), 'utf8')) as OciSpec;
  } catch {
    throw new EngineError('conflict', `container ${containerId} is not running (no runtime config)`);
  }
  const c = ex.config;
  const p: OciSpecProcess = { ...spec.process, args: c.cmd, terminal: tty };
  delete p.consoleSize;
  if (tty && c.consoleSize) p.consoleSize = c.consoleSize;
  p.env = mergeEnv(spec.process.env, c.env);
  if (tty && !p.env.some((e) => e.startsWith('TERM='))) p.env.push('TERM=xterm');
  if (c.workingDir) p.cwd = c.workingDir;
  const rec = m.mustGet(containerId);
  if (c.user) {
    const u = await resolveUser(m.layout.merged(containerId), c.user, rec.spec.groupAdd);
    p.user = { ...p.user, uid: u.uid, gid: u.gid, additionalGids: u.additionalGids };
    p.env = mergeEnv(p.env.filter((e) => !e.startsWith('HOME=')), [`HOME=${u.home}`], c.env);
  }
  if (c.privileged) {
    const all = [...spec.process.capabilities.bounding];
    for (const cap of ALL_CAPABILITIES) if (!all.includes(cap) && rec.spec.privileged) all.push(cap);
    p.capabilities = { bounding: all, effective: [...all], permitted: [...all], inheritable: [], ambient: [] };
  }
  return p;
}

/**
 * Direct sessions (no conmon) started by this process and not yet exited: their records are
 * brought up to date by the exit handler here, not by syncExec (which, finding no conmon,
 * would take them for sessions that ended while nobody watched).
 */
const directRunning = new Set<string>();

export async function execStart(m: ContainerManager, id: string, o: ExecStartOptions): Promise<ExecStartReport> {
  const ex = m.store.getExec(id);
  if (!ex) throw noSuchExec(id);
  if (ex.started) throw new EngineError('conflict', `exec session ${id} has already been started: exec session state improper`, undefined, 'exec session state improper');
  const rec = mustBeRunning(m, ex.containerId);
  const tty = o.tty ?? ex.config.tty;
  if (o.consoleSize) ex.config.consoleSize = o.consoleSize;
  const attach = !o.detach;
  const dir = m.layout.execBundle(id);
  ex.started = true;
  m.store.putExec(ex);
  let handle: Awaited<ReturnType<typeof execUnderConmon>> | DirectExecHandle;
  // Attached sessions without a terminal run `runc exec` directly on pipes (no conmon, no
  // attach relay: the fastest round trip); terminals and detached sessions go under conmon.
  const direct = attach && !tty;
  try {
    const process = await processFor(m, rec.id, ex, tty);
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    handle = direct
      ? await execDirect(m.runc, { containerId: rec.id, dir, process, stdin: ex.config.attachStdin })
      : await execUnderConmon(m.rt, { containerId: rec.id, sessionId: id, dir, process, stdin: attach && ex.config.attachStdin, attach });
  } catch (err) {
    await fsp.rm(dir, { recursive: true, force: true });
    const code = err instanceof ExecStartError ? err.exitCode : 125;
    m.store.putExec({ ...ex, running: false, exitCode: code });
    await m.emit('exec_die', rec, { execID: id, exitCode: String(code) });
    if (!attach) throw err;
    // Docker reports a failed exec in the stream, then the exit code in inspect.
    const msg = `${err instanceof ExecStartError ? `OCI runtime exec failed: ${err.runtimeMessage}` : (err as Error).message}\n`;
    async function* errorOutput(): AsyncGenerator<OutputChunk> {
      yield { stream: 'stderr', data: Buffer.from(msg) };
    }
    const session: StdioSession = { tty, output: errorOutput(), close: () => {} };
    return { session, exited: Promise.resolve(code) };
  }
  m.store.putExec({ ...ex, running: true, pid: handle.pid, conmonPid: 'conmonPid' in handle ? handle.conmonPid : 0 });
  if (direct) {
    directRunning.add(id);
    // A late start failure leaves the record to syncExec, as before.
    handle.exited.catch(() => directRunning.delete(id));
  }
  await m.emit('exec_start', rec, { execID: id });
  const exited = handle.exited.then(async (code) => {
    const cur = m.store.getExec(id);
    if (cur) m.store.putExec({ ...cur, running: false, exitCode: code, pid: 0 });
    directRunning.delete(id);
    await m.emit('exec_die', rec, { execID: id, exitCode: String(code) });
    await fsp.rm(dir, { recursive: true, force: true }).catch(() => {});
    return code;
  });
  exited.catch(() => {});
  if (!attach) return {};
  if ('output' in handle) return { session: directSession(handle, ex), exited };
  const session = stdioSession(handle.session, {
    tty,
    stdin: ex.config.attachStdin,
    stdout: ex.config.attachStdout,
    stderr: ex.config.attachStderr,
    detachKeys: parseDetachKeys(ex.config.detachKeys || m.conf?.engine.detachKeys || 'ctrl-p,ctrl-q'),
  });
  return { session, exited };
}

/** A StdioSession over a direct `runc exec`'s pipes. */
function directSession(h: DirectExecHandle, ex: ExecRecord): StdioSession {
  const c = ex.config;
  let closed = false;
  let stdin: StdioSession['stdin'];
  if (h.stdin && c.attachStdin) {
    // On detach the filter ends after the bytes typed before the keys, and the pipe then ends
    // the process's stdin: none of them is lost.
    const filter = detachFilter(parseDetachKeys(c.detachKeys || 'ctrl-p,ctrl-q'), () => {
      closed = true;
    });
    filter.on('error', () => {});
    filter.pipe(h.stdin);
    stdin = filter;
  } else h.stdin?.end();
  async function* output(): AsyncGenerator<OutputChunk> {
    for await (const c of h.output) {
      if (closed) return;
      if (c.stream === 'stdout' ? ex.config.attachStdout : ex.config.attachStderr) yield c;
    }
  }
  return {
    tty: false,
    output: output(),
    ...(stdin ? { stdin } : {}),
    close: () => {
      closed = true;
    },
  };
}

/** Brings a session's record up to date when its process ended while nobody watched. */
async function syncExec(m: ContainerManager, ex: ExecRecord): Promise<ExecRecord> {
  if (!ex.running || directRunning.has(ex.id)) return ex;
  const dir = m.layout.execExitDir(ex.id);
  const code = await readExecExitCode(dir, ex.containerId);
  const alive = ex.conmonPid > 0 && (() => {
    try {
      process.kill(ex.conmonPid, 0);
      return true;
    } catch {
      return false;
    }
  })();
  if (code === undefined && alive) return ex;
  const next = { ...ex, running: false, exitCode: code ?? -1, pid: 0 };
  m.store.putExec(next);
  await fsp.rm(path.dirname(dir), { recursive: true, force: true }).catch(() => {});
  return next;
}

export async function execInspect(m: ContainerManager, id: string): Promise<ExecReport> {
  const raw = m.store.getExec(id);
  if (!raw) throw noSuchExec(id);
  const ex = await syncExec(m, raw);
  return { id: ex.id, containerId: ex.containerId, config: ex.config, running: ex.running, exitCode: ex.exitCode, pid: ex.pid, canRemove: !ex.running };
}

export async function execResize(m: ContainerManager, id: string, size: { height: number; width: number }): Promise<void> {
  const ex = m.store.getExec(id);
  if (!ex) throw noSuchExec(id);
  if (!ex.running) {
    if (!ex.started) {
      // Before start: remembered as the initial size.
      m.store.putExec({ ...ex, config: { ...ex.config, consoleSize: size } });
      return;
    }
    throw new EngineError('conflict', `exec session ${id} is not running: exec session state improper`, undefined, 'exec session state improper');
  }
  await m.rt.resize(m.layout.execBundle(id), size);
}
