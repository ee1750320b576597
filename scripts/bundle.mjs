#!/usr/bin/env node
// Bundles the compiled service into dist/bundle/:
//   tspod.js (+ chunks)  dist/cli/main.js and everything it imports, dependencies included: one
//                        module to load at start instead of hundreds, which is most of a Node
//                        cold start. Commands other than the service load their own chunks.
//   pipeline.script.js   what the service loads after it listens (server/pipeline.ts: the API
//                        pipeline and the engine, and the generated validators) as one
//                        script, and pipeline.cache, its V8 code cache (see
//                        server/load-pipeline.ts, scripts/pipeline-script.mjs).
// Native addons (better-sqlite3's) stay outside.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

// See bundle-stubs/unused-by-tspod.cjs for why these are left out of the bundle.
const UNUSED = ['@apidevtools/json-schema-ref-parser', 'openapi-schema-validator', 'mock-json-schema', 'ajv'];
const stubUnused = {
  name: 'stub-unused',
  setup(b) {
    const filter = new RegExp(`^(${UNUSED.map((m) => m.replace(/[/.]/g, '\\$&')).join('|')})$`);
    b.onResolve({ filter }, () => ({ path: join(root, 'scripts/bundle-stubs/unused-by-tspod.cjs') }));
  },
};
// In the module bundle, the pipeline is the script built below, never chunks of its own.
const pipelineScript = {
  name: 'pipeline-script',
  setup(b) {
    b.onResolve({ filter: /^\.\/pipeline\.js$/ }, (args) => (args.importer.endsWith('load-pipeline.js') ? { path: './pipeline.js', external: true } : undefined));
  },
};
rmSync(join(root, 'dist/bundle'), { recursive: true, force: true });
await build({
  entryPoints: { tspod: join(root, 'dist/cli/main.js') },
  outdir: join(root, 'dist/bundle'),
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['better-sqlite3'],
  // Bundled CommonJS dependencies call require() for Node's own modules.
  banner: { js: "import { createRequire as __tspodCreateRequire } from 'node:module'; const require = __tspodCreateRequire(import.meta.url);" },
  legalComments: 'none',
  plugins: [stubUnused, pipelineScript],
  logLevel: 'warning',
});

// Dependencies whose load is deferred to their first use in the pipeline script: mime-types
// builds its tables from mime-db's 2,400 types (two copies: Koa's and accepts'), ~12 ms of the
// script's run and ~2 MB, for Koa's content-type lookups by extension, which tspod's answers
// never need (they set Content-Type themselves). Each importer gets a stand-in whose functions
// and properties load its own copy on first use, so behaviour is unchanged.
const LAZY_PACKAGES = ['mime-types'];
const lazyPackages = {
  name: 'lazy-packages',
  setup(b) {
    const filter = new RegExp(`^(${LAZY_PACKAGES.join('|')})$`);
    b.onResolve({ filter }, async (args) => {
      if (args.pluginData?.real) return undefined;
      const real = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, pluginData: { real: true } });
      if (real.errors.length) return { errors: real.errors };
      return { path: real.path, namespace: 'lazy-package' };
    });
    b.onLoad({ filter: /.*/, namespace: 'lazy-package' }, (args) => {
      const keys = Object.entries(createRequire(args.path)(args.path));
      const members = keys.map(([k, v]) => (typeof v === 'function' ? `${JSON.stringify(k)}: (...a) => load()[${JSON.stringify(k)}](...a)` : `get ${JSON.stringify(k)}() { return load()[${JSON.stringify(k)}]; }`));
      return {
        loader: 'js',
        resolveDir: dirname(args.path),
        contents: `let real; const load = () => (real ??= require(${JSON.stringify(args.path)}));\nmodule.exports = { ${members.join(', ')} };`,
      };
    });
  },
};
await build({
  entryPoints: [join(root, 'scripts/pipeline-script.mjs')],
  outfile: join(root, 'dist/bundle/pipeline.script.js'),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  // better-sqlite3's JavaScript is in the script (compiled from the cache, no module lookups);
  // its native addon is required from node_modules by engine/sqlite.ts.
  external: ['*.node'],
  // A function expression that server/load-pipeline.ts compiles and calls with what Node gives a
  // CommonJS module, and the URL of the file as __tspodMeta.url (for import.meta.url).
  banner: { js: '(function (exports, require, module, __filename, __dirname, __tspodMeta) {' },
  footer: { js: '})' },
  define: { 'import.meta.url': '__tspodMeta.url' },
  legalComments: 'none',
  plugins: [stubUnused, lazyPackages],
  // Whitespace only (names stay, for stack traces): the source is held in memory as long as the
  // service runs; 4.0 -> 2.4 MB with the validators, whose generated code esbuild spreads out.
  minifyWhitespace: true,
  logLevel: 'warning',
});
// ASCII only: V8 keeps a source with any other character as a two-byte string, which doubles
// what the script's source costs in memory (3.7 MB instead of 1.8). esbuild escapes strings
// but leaves regular expressions (µs in durations) and comments as they are; \uXXXX means the
// same there.
const pipelineFile = join(root, 'dist/bundle/pipeline.script.js');
writeFileSync(pipelineFile, readFileSync(pipelineFile, 'utf8').replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
// The code cache, made by this node under default V8 flags, as the service runs (see
// server/heap.ts: its heap flags are set only once it has loaded).
const made = spawnSync(process.execPath, [join(root, 'scripts/pipeline-cache.mjs'), join(root, 'dist/bundle/pipeline.script.js'), join(root, 'dist/bundle/pipeline.cache')], { stdio: 'inherit' });
// Without a cache the script compiles from source, as before.
if (made.status !== 0) process.stderr.write('bundle: no code cache for the pipeline (scripts/pipeline-cache.mjs failed)\n');
