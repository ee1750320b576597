#!/usr/bin/env node
// Bundles the compiled service (dist/cli/main.js and everything it imports, dependencies
// included) into dist/bundle/: one module to load at start instead of hundreds, which is most
// of a Node cold start. The API pipeline stays a separate chunk, loaded after listen.
// Native addons (better-sqlite3) and the generated validators stay outside.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
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
  plugins: [stubUnused],
  logLevel: 'warning',
});
