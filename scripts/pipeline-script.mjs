// Entry of the bundle's pipeline script (scripts/bundle.mjs): server/pipeline.ts, and the
// generated validators, which the unbundled service imports from generated/ at run time. Here
// they are in the script, so compiled from its code cache, and evaluated on first use (esbuild
// turns these import() calls into initializers of modules inside the script).
export * from '../dist/server/pipeline.js';

/** @type {import('../dist/server/validation.js').ValidatorLoader} */
export const loadValidators = (spec) => (spec === 'docker' ? import('../generated/docker.validators.js') : import('../generated/libpod.validators.js'));
