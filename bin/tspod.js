#!/usr/bin/env node
// Entry point installed as `tspod`; the compiled CLI lives in dist/.
import '../dist/cli/main.js';
