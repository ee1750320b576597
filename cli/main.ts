// tspod's command line.
import { loadContainersConf } from '../engine/config/containers-conf.js';
import { DOCKER_API_VERSION, LIBPOD_API_VERSION } from '../server/api-version.js';
import { describeEndpoint, ListenError, parseUri, socketActivation, type Endpoint } from '../server/listeners.js';
import { createLogger } from '../server/logger.js';
import { runService } from '../server/service.js';
import { parseArgs, UsageError, type Command } from './args.js';
import { defaults } from './defaults.js';

async function serve(cmd: Extract<Command, { kind: 'service' }>): Promise<number> {
  const logger = createLogger(cmd.global.logLevel);
  const d = defaults();
  const activated = socketActivation();
  const endpoint: Endpoint = activated ?? (cmd.uri ? parseUri(cmd.uri) : { kind: 'unix', path: d.socketPath, isDefault: true });
  if (activated && cmd.uri) logger.info(`socket activation: ignoring ${cmd.uri}`);
  const conf = loadContainersConf({ rootless: d.rootless });
  const idleSeconds = cmd.time ?? conf.engine.serviceTimeout ?? 5;
  return runService({
    endpoint,
    logger,
    cors: cmd.cors,
    idleSeconds,
    serverName: `Libpod/${LIBPOD_API_VERSION} (linux)`,
    // Loaded after the socket listens: the engine's modules are not on the start path.
    createEngine: async () => {
      const { createLocalEngine } = await import('../engine/local-engine.js');
      return createLocalEngine({
        root: cmd.global.root ?? d.root,
        runroot: cmd.global.runroot ?? d.runroot,
        rootless: d.rootless,
        conf,
        remoteSocket: endpoint.kind === 'fd' ? undefined : describeEndpoint(endpoint),
      });
    },
  });
}

async function main(argv: string[]): Promise<number> {
  const cmd = parseArgs(argv);
  switch (cmd.kind) {
    case 'help':
      process.stdout.write(cmd.text);
      return 0;
    case 'version': {
      const { tspodVersion } = await import('../engine/system/host-info.js');
      process.stdout.write(`tspod version ${tspodVersion}\nDocker API ${DOCKER_API_VERSION}, Libpod API ${LIBPOD_API_VERSION}\n`);
      return 0;
    }
    case 'service':
      return serve(cmd);
    case 'cleanup':
      return (await import('./cleanup.js')).runCleanup(cmd.id, { root: cmd.global.root ?? defaults().root, runroot: cmd.global.runroot ?? defaults().runroot });
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`Error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(err instanceof ListenError ? err.exitCode : err instanceof UsageError ? 125 : 1);
  },
);
