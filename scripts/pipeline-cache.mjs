// Makes dist/bundle/pipeline.cache, the V8 code cache of dist/bundle/pipeline.script.js (see
// server/load-pipeline.ts). V8 takes a cache only from the same node under the same V8 flags
// (the defaults: scripts/bundle.mjs runs this with none). Before taking the cache it
// runs what a first request runs (engine on a scratch root, one GET /v1.40/containers/json
// through the app), so that those functions are in the cache compiled, not only the top level.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../dist/server/logger.js';
import { runScript } from '../dist/server/load-pipeline.js';

const [script, cacheFile] = process.argv.slice(2);
rmSync(cacheFile, { force: true });
const run = await runScript(script);
const pipeline = run.exports;

async function warm() {
  const dir = mkdtempSync(join(tmpdir(), 'tspod-pipeline-cache-'));
  try {
    const rootless = process.getuid?.() !== 0;
    const conf = pipeline.loadContainersConf({ rootless });
    const engine = await pipeline.createLocalEngine({ root: join(dir, 'root'), runroot: join(dir, 'run'), rootless, conf });
    try {
      const app = pipeline.createApp({ engine, cors: '', serverName: 'tspod', logger: createLogger('error', () => {}) });
      const server = createServer(app.callback());
      const socketPath = join(dir, 'api.sock');
      await new Promise((resolve) => server.listen(socketPath, resolve));
      for (const path of ['/v1.40/containers/json', '/v1.40/containers/json?all=1', '/v4.3.1/libpod/containers/json']) {
        await new Promise((resolve, reject) => {
          request({ socketPath, path, agent: false }, (res) => res.resume().on('end', resolve)).on('error', reject).end();
        });
      }
      await new Promise((resolve) => server.close(resolve));
    } finally {
      await engine.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// The warm-up needs what the engine drives (runc); without it the cache still holds the
// pipeline's top level.
const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), 20_000).unref());
await Promise.race([warm(), timeout]).catch((err) => process.stderr.write(`pipeline-cache: warm-up skipped: ${err.message}\n`));
writeFileSync(cacheFile, run.cache());
process.exit(0);
