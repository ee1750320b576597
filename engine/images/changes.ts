// Dockerfile-style `changes` applied to an image config (import, commit): CMD, ENTRYPOINT, ENV,
// EXPOSE, HEALTHCHECK, LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL, ONBUILD (the instructions moby's
// commit accepts, builder/dockerfile validCommitCommands). Arguments in JSON form
// (["a","b"]) are taken as they are; CMD and ENTRYPOINT in shell form become
// ["/bin/sh", "-c", "..."].
import * as path from 'node:path';
import { EngineError } from '../errors.js';
import { parseSignal } from '../oci/runc.js';
import type { ImageRuntimeConfig } from './types.js';

const bad = (message: string) => new EngineError('invalid-argument', message);

function jsonArray(s: string): string[] | undefined {
  const t = s.trim();
  if (!t.startsWith('[')) return undefined;
  try {
    const v = JSON.parse(t) as unknown;
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  } catch {
    /* not JSON: shell form */
  }
  return undefined;
}

/** Splits "a=b c='d e'" style words (double and single quotes, backslash escapes). */
export function splitWords(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | undefined;
  let has = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < s.length) cur += s[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      has = true;
    } else if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      has = true;
    } else if (/\s/.test(c)) {
      if (has || cur) out.push(cur);
      cur = '';
      has = false;
    } else {
      cur += c;
    }
  }
  if (quote) throw bad(`unterminated quote in ${JSON.stringify(s)}`);
  if (has || cur) out.push(cur);
  return out;
}

/** key=value pairs, or the old "key value" form (one pair). */
function pairs(instruction: string, args: string): Array<[string, string]> {
  const words = splitWords(args);
  if (words.length === 0) throw bad(`${instruction} needs an argument`);
  if (!words[0]!.includes('=')) {
    const m = /^\s*(\S+)\s+(.*)$/s.exec(args);
    if (!m) throw bad(`${instruction} needs a value: ${JSON.stringify(args)}`);
    return [[m[1]!, splitWords(m[2]!).join(' ')]];
  }
  return words.map((w) => {
    const eq = w.indexOf('=');
    if (eq <= 0) throw bad(`${instruction}: ${JSON.stringify(w)} is not key=value`);
    return [w.slice(0, eq), w.slice(eq + 1)];
  });
}

/** A Go duration ("30s", "1m30s") in nanoseconds. */
function durationNs(flag: string, v: string): number {
  const units: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  let total = 0;
  let consumed = 0;
  for (const m of v.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) {
    total += Number(m[1]) * units[m[2]!]!;
    consumed += m[0].length;
  }
  if (consumed === 0 || consumed !== v.length) throw bad(`HEALTHCHECK: invalid duration ${JSON.stringify(v)} for --${flag}`);
  return Math.round(total);
}

/** HEALTHCHECK NONE, or HEALTHCHECK [--interval=D] [--timeout=D] [--start-period=D] [--retries=N] CMD command. */
function healthcheck(args: string): NonNullable<ImageRuntimeConfig['Healthcheck']> {
  if (/^none$/i.test(args)) return { Test: ['NONE'] };
  const hc: NonNullable<ImageRuntimeConfig['Healthcheck']> = {};
  let rest = args;
  for (let m = /^--([a-z-]+)=(\S*)\s*/.exec(rest); m; m = /^--([a-z-]+)=(\S*)\s*/.exec(rest)) {
    const [, flag, value] = m as unknown as [string, string, string];
    if (flag === 'interval') hc.Interval = durationNs(flag, value);
    else if (flag === 'timeout') hc.Timeout = durationNs(flag, value);
    else if (flag === 'start-period') hc.StartPeriod = durationNs(flag, value);
    else if (flag === 'retries') {
      if (!/^\d+$/.test(value)) throw bad(`HEALTHCHECK: invalid --retries ${JSON.stringify(value)}`);
      hc.Retries = Number(value);
    } else throw bad(`HEALTHCHECK: unknown flag --${flag}`);
    rest = rest.slice(m[0].length);
  }
  const cmd = /^CMD(?:\s+(.*))?$/is.exec(rest);
  if (!cmd || !cmd[1]?.trim()) throw bad('HEALTHCHECK needs NONE or CMD and a command');
  const argv = jsonArray(cmd[1]);
  hc.Test = argv ? ['CMD', ...argv] : ['CMD-SHELL', cmd[1].trim()];
  return hc;
}

/** Applies changes to (a copy of) a config. Throws invalid-argument for anything it cannot read. */
export function applyChanges(base: ImageRuntimeConfig, changes: string[]): ImageRuntimeConfig {
  const c: ImageRuntimeConfig = structuredClone(base);
  for (const change of changes) {
    const m = /^\s*([A-Za-z]+)(?:\s+|=)(.*)$/s.exec(change);
    if (!m) throw bad(`invalid change ${JSON.stringify(change)}: expected "INSTRUCTION arguments"`);
    const instruction = m[1]!.toUpperCase();
    const args = m[2]!.trim();
    switch (instruction) {
      case 'CMD':
      case 'ENTRYPOINT': {
        const argv = jsonArray(args) ?? (args === '' ? [] : ['/bin/sh', '-c', args]);
        if (instruction === 'CMD') c.Cmd = argv;
        else c.Entrypoint = argv;
        break;
      }
      case 'ENV': {
        const env = [...(c.Env ?? [])];
        for (const [k, v] of pairs(instruction, args)) {
          const i = env.findIndex((e) => e.split('=')[0] === k);
          if (i === -1) env.push(`${k}=${v}`);
          else env[i] = `${k}=${v}`;
        }
        c.Env = env;
        break;
      }
      case 'LABEL': {
        c.Labels = { ...(c.Labels ?? {}) };
        for (const [k, v] of pairs(instruction, args)) c.Labels[k] = v;
        break;
      }
      case 'EXPOSE': {
        c.ExposedPorts = { ...(c.ExposedPorts ?? {}) };
        for (const p of splitWords(args)) {
          if (!/^\d+(-\d+)?(\/(tcp|udp|sctp))?$/i.test(p)) throw bad(`EXPOSE: invalid port ${JSON.stringify(p)}`);
          c.ExposedPorts[p.includes('/') ? p.toLowerCase() : `${p}/tcp`] = {};
        }
        break;
      }
      case 'USER':
        if (!args) throw bad('USER needs a user');
        c.User = args;
        break;
      case 'VOLUME': {
        c.Volumes = { ...(c.Volumes ?? {}) };
        for (const v of jsonArray(args) ?? splitWords(args)) {
          if (!v) throw bad('VOLUME needs a path');
          c.Volumes[v] = {};
        }
        break;
      }
      case 'WORKDIR': {
        if (!args) throw bad('WORKDIR needs a path');
        c.WorkingDir = path.posix.resolve(c.WorkingDir || '/', args);
        break;
      }
      case 'STOPSIGNAL':
        if (!args) throw bad('STOPSIGNAL needs a signal');
        try {
          parseSignal(args);
        } catch {
          throw bad(`STOPSIGNAL: invalid signal: ${args}`);
        }
        c.StopSignal = args;
        break;
      case 'ONBUILD': {
        // As Docker's parser: a trigger is another instruction, but not ONBUILD, FROM or MAINTAINER.
        const t = /^([A-Za-z]+)(?:\s+(.*))?$/s.exec(args);
        if (!t) throw bad('ONBUILD needs an instruction');
        const trigger = t[1]!.toUpperCase();
        if (trigger === 'ONBUILD') throw bad("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
        if (trigger === 'FROM' || trigger === 'MAINTAINER') throw bad(`${trigger} isn't allowed as an ONBUILD trigger`);
        c.OnBuild = [...(c.OnBuild ?? []), `${trigger}${t[2] ? ` ${t[2]}` : ''}`];
        break;
      }
      case 'HEALTHCHECK':
        c.Healthcheck = healthcheck(args);
        break;
      default:
        throw bad(`invalid change ${JSON.stringify(change)}: ${instruction} is not one of CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR`);
    }
  }
  return c;
}

/**
 * Docker sends each change as one query value; Podman's clients sometimes send them joined
 * with newlines or as "CMD=..." (the --change flag's form). Both are split here.
 */
export function splitChanges(values: string[] | undefined): string[] {
  return (values ?? []).flatMap((v) => v.split('\n')).filter((v) => v.trim() !== '');
}
