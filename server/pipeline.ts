// What the service loads once it listens, as one unit: the API pipeline (Koa app, routing,
// handlers; validators come on demand) and the engine. The bundle builds it, with the generated
// validators, as one script with a V8 code cache (scripts/bundle.mjs, from
// scripts/pipeline-script.mjs); server/load-pipeline.ts loads it either way.
export { createApp } from './app.js';
export { preloadValidators, useValidatorLoader, type ValidatorLoader } from './validation.js';
export { loadContainersConf } from '../engine/config/containers-conf.js';
export { createLocalEngine } from '../engine/local-engine.js';
