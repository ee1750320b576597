// tspod's command line.
import { DOCKER_API_VERSION, LIBPOD_API_VERSION } from '../server/api-version.js';
import { describeEndpoint, ListenError, parseUri, socketActivation, type Endpoint } from '../server/listeners.js';
import { createLogger } from '../server/logger.js';
import { loadPipeline } from '../server/load-pipeline.js';
import { runService } from '../server/service.js';
import { parseArgs, UsageError, type Command } from './args.js';
import { defaults } from './defaults.js';

async function serve(cmd: Extract<Command, { kind: 'service' }>): Promise<number> {
  const logger = createLogger(cmd.global.logLevel);
  const d = defaults();
  const activated = socketActivation();
  const endpoint: Endpoint = activated ?? (cmd.uri ? parseUri(cmd.uri) : { kind: 'unix', path: d.socketPath, isDefault: true });
  if (activated && cmd.uri) logger.info(`socket activation: ignoring ${cmd.uri}`);
  return runService({
    endpoint,
    logger,
    cors: cmd.cors,
    serverName: `Libpod/${LIBPOD_API_VERSION} (linux)`,
    // Loaded after the socket listens: configuration and engine are not on the start path.
    createEngine: async () => {
      const { loadContainersConf, createLocalEngine } = await loadPipeline();
      const conf = loadContainersConf({ rootless: d.rootless });
      const idleSeconds = cmd.time ?? conf.engine.serviceTimeout ?? 5;
      const engine = await createLocalEngine({
        root: cmd.global.root ?? d.root,
        runroot: cmd.global.runroot ?? d.runroot,
        rootless: d.rootless,
        conf,
        remoteSocket: endpoint.kind === 'fd' ? undefined : describeEndpoint(endpoint),
      });
      return { engine, idleSeconds };
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
