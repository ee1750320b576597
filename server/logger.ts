// Log levels as Podman's --log-level: errors are always written; info adds access lines.
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'panic';
export const LOG_LEVELS: LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'panic'];

export interface Logger {
  readonly level: LogLevel;
  enabled(level: LogLevel): boolean;
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** Writes a line as is (access log lines). */
  raw(line: string): void;
}

export function createLogger(level: LogLevel, write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const rank = LOG_LEVELS.indexOf(level);
  const enabled = (l: LogLevel) => LOG_LEVELS.indexOf(l) >= rank || l === 'error';
  const at = (l: LogLevel) => (message: string) => {
    if (enabled(l)) write(`time="${new Date().toISOString()}" level=${l} msg=${JSON.stringify(message)}\n`);
  };
  return { level, enabled, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), raw: (line) => write(line) };
}
