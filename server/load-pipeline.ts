// Loads server/pipeline.ts. In the bundle it is one script, dist/bundle/pipeline.script.js (the
// CommonJS build wrapped in a function expression), compiled with the V8 code cache the build
// left beside it (pipeline.cache): V8 then skips parsing and compiling ~2 MB of JavaScript and
// the functions a first request runs. Unbundled, it is an ordinary module.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import vm from 'node:vm';

export type Pipeline = typeof import('./pipeline.js');
/** The bundled script also carries the generated validators. */
type PipelineScript = Pipeline & { loadValidators: import('./pipeline.js').ValidatorLoader };

let loading: Promise<Pipeline> | undefined;

/** The pipeline, loaded once. */
export function loadPipeline(): Promise<Pipeline> {
  return (loading ??= load());
}

async function load(): Promise<Pipeline> {
  const script = fileURLToPath(new URL('./pipeline.script.js', import.meta.url));
  if (!existsSync(script)) return import('./pipeline.js');
  const pipeline = (await runScript(script)).exports as PipelineScript;
  pipeline.useValidatorLoader(pipeline.loadValidators);
  return pipeline;
}

export interface ScriptRun {
  exports: unknown;
  /** The V8 code cache of the script as compiled so far (for the build). */
  cache(): Buffer;
  /** Whether a code cache was there and V8 took it. */
  cached: boolean;
}

/**
 * Compiles and runs a script made by scripts/bundle.mjs (a function expression taking
 * exports, require, module, __filename, __dirname and __tspodMeta) with its code cache
 * (`<name>.cache` for `<name>.script.js`), when there is one that V8 accepts: the same V8 and
 * the same V8 flags as when it was made; otherwise from source.
 * The files are read asynchronously: requests already waiting (the first pings, answered
 * without the pipeline) are answered before the compile and run take the thread.
 */
export async function runScript(file: string): Promise<ScriptRun> {
  const [text, cachedData] = await Promise.all([
    readFile(file, 'utf8'),
    // no cache: compiled from source
    readFile(file.replace(/\.script\.js$/, '.cache')).catch(() => undefined),
  ]);
  await new Promise((resolve) => setImmediate(resolve));
  const script = new vm.Script(text, {
    filename: file,
    cachedData,
  });
  const module = { exports: {} as unknown };
  const run = script.runInThisContext() as (...args: unknown[]) => void;
  run(module.exports, createRequire(file), module, file, dirname(file), { url: pathToFileURL(file).href });
  return { exports: module.exports, cache: () => script.createCachedData(), cached: cachedData !== undefined && !script.cachedDataRejected };
}
