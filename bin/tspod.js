#!/usr/bin/env node
// Entry point installed as `tspod`: the bundled build when present (fast start), else the
// plain compiled modules.
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/bundle/tspod.js', import.meta.url);
await import(existsSync(bundle) ? bundle.href : new URL('../dist/cli/main.js', import.meta.url).href);
