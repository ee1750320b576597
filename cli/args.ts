// Command-line parsing for `tspod [global options] system service [options] [URI]` and
// `tspod version`. Podman-style long and short flags, `--flag=value` and `--flag value`.
import type { LogLevel } from '../server/logger.js';
import { LOG_LEVELS } from '../server/logger.js';

export interface GlobalOptions {
  root?: string;
  runroot?: string;
  logLevel: LogLevel;
}

export type Command =
  | { kind: 'help'; text: string }
  | { kind: 'version' }
  | { kind: 'service'; global: GlobalOptions; time?: number; cors: string; uri?: string }
  // Hidden: conmon's exit command (`tspod [--root R --runroot R] container cleanup <id>`).
  | { kind: 'cleanup'; global: GlobalOptions; id: string };

export class UsageError extends Error {}

export const USAGE = `Usage:
  tspod [options] system service [options] [URI]
  tspod version

Run an API service (Docker-compatible API v1.40 and Libpod API v5.1.0).

URI: unix:///path/to/socket or tcp://host:port. Default:
  unix:///run/podman/podman.sock as root, unix://$XDG_RUNTIME_DIR/podman/podman.sock otherwise.
  Under systemd socket activation (LISTEN_FDS=1) the inherited socket is served instead.

Global options:
      --root string        storage root (default /var/lib/tspod as root, $XDG_DATA_HOME/tspod otherwise)
      --runroot string     state root (default /run/tspod as root, $XDG_RUNTIME_DIR/tspod otherwise)
      --log-level string   trace, debug, info, warn, error, fatal, panic (default "warn")
  -h, --help               this help

Service options:
      --cors string        value of Access-Control-Allow-Origin for every answer ("" = no CORS headers)
  -t, --time int           seconds of inactivity before the service exits (0 = never; default 5,
                           or service_timeout from containers.conf)
`;

function takeValue(argv: string[], i: number, flag: string): [string, number] {
  const arg = argv[i];
  const eq = arg.indexOf('=');
  if (arg.startsWith('--') && eq > 0) return [arg.slice(eq + 1), i];
  if (i + 1 >= argv.length) throw new UsageError(`flag needs an argument: ${flag}`);
  return [argv[i + 1], i + 1];
}

export function parseArgs(argv: string[]): Command {
  const global: GlobalOptions = { logLevel: 'warn' };
  const words: string[] = [];
  let time: number | undefined;
  let cors = '';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const name = arg.startsWith('--') ? arg.slice(2).split('=')[0] : arg;
    if (arg === '-h' || arg === '--help') return { kind: 'help', text: USAGE };
    if (!arg.startsWith('-') || arg === '-') {
      words.push(arg);
      continue;
    }
    let value: string;
    switch (name) {
      case 'root':
      case 'runroot':
      case 'log-level':
      case 'cors':
      case 'time':
      case '-t':
        [value, i] = takeValue(argv, i, arg);
        break;
      default:
        if (/^-t\d+$/.test(arg)) {
          value = arg.slice(2);
          time = parseTime(value);
          continue;
        }
        throw new UsageError(`unknown flag: ${arg}`);
    }
    if (name === 'root') global.root = value;
    else if (name === 'runroot') global.runroot = value;
    else if (name === 'cors') cors = value;
    else if (name === 'time' || name === '-t') time = parseTime(value);
    else if (name === 'log-level') {
      if (!LOG_LEVELS.includes(value as LogLevel)) throw new UsageError(`invalid log level ${JSON.stringify(value)}: use one of ${LOG_LEVELS.join(', ')}`);
      global.logLevel = value as LogLevel;
    }
  }
  if (words[0] === 'version' && words.length === 1) return { kind: 'version' };
  if (words[0] === 'system' && words[1] === 'service') {
    if (words.length > 3) throw new UsageError(`accepts at most one URI, received ${words.length - 2}`);
    return { kind: 'service', global, time, cors, uri: words[2] };
  }
  if (words[0] === 'container' && words[1] === 'cleanup' && words.length === 3) return { kind: 'cleanup', global, id: words[2]! };
  if (words.length === 0) return { kind: 'help', text: USAGE };
  throw new UsageError(`unknown command: ${words.join(' ')}`);
}

function parseTime(value: string): number {
  if (!/^\d+$/.test(value)) throw new UsageError(`invalid argument ${JSON.stringify(value)} for --time: must be a whole number of seconds`);
  return Number(value);
}
