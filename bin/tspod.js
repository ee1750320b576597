#!/usr/bin/env -S node --max-semi-space-size=1 --heap-growing-percent=50
// Entry point installed as `tspod`: the bundled build when present (fast start), else the
// plain compiled modules.
//
// The node flags above are the service's heap settings; they apply whenever the command runs as
// itself (npm's bin link, systemd's ExecStart, `npm start`), not under `node bin/tspod.js`.
// V8 reads them only at start (v8.setFlagsFromString is too late for the young generation).
// Measured with the bench's http-load: idle RSS 75 -> 69 MB, peak 158 -> 81 MB, throughput
// within the noise (±10%) at c16.
//   --max-semi-space-size=1   young generation of 1 MB semi-spaces instead of growing to 16:
//                             the default grows it to 48 MB under load, all of it resident.
//   --heap-growing-percent=50 the old generation grows by 50% over live data (~15 MB) before
//                             the next full GC, instead of up to 4x; with small semi-spaces
//                             more request garbage is promoted, and this collects it sooner.
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/bundle/tspod.js', import.meta.url);
await import(existsSync(bundle) ? bundle.href : new URL('../dist/cli/main.js', import.meta.url).href);
