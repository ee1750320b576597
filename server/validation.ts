// Request validation with the Ajv validators that codegen compiled ahead of time
// (generated/<spec>.validators.js), loaded on first use so startup pays nothing.
import { pathToFileURL } from 'node:url';
import { invalidArgument } from '../engine/errors.js';
import { generatedFile } from './paths.js';
import type { SpecName } from './routing.js';

interface AjvError {
  instancePath: string;
  message?: string;
  params?: Record<string, unknown>;
}
type Validator = ((data: unknown) => boolean) & { errors?: AjvError[] | null };
export type ValidatorModule = Record<string, Validator>;
export type ValidatorLoader = (spec: SpecName) => Promise<ValidatorModule>;

const modules = new Map<SpecName, Promise<ValidatorModule>>();

// By default the generated modules are imported from generated/. The bundle's pipeline script
// carries them inside (evaluated on first use, compiled from its code cache) and gives its own
// loader (see server/load-pipeline.ts).
let loadModule: ValidatorLoader = (spec) => import(pathToFileURL(generatedFile(`${spec}.validators.js`)).href) as Promise<ValidatorModule>;

export function useValidatorLoader(loader: ValidatorLoader): void {
  loadModule = loader;
}

function load(spec: SpecName): Promise<ValidatorModule> {
  let mod = modules.get(spec);
  if (!mod) {
    mod = loadModule(spec);
    modules.set(spec, mod);
  }
  return mod;
}

/** Starts loading a spec's validators in the background (after the service listens). */
export function preloadValidators(spec: SpecName): void {
  void load(spec);
}

export interface RequestParts {
  path: Record<string, string>;
  query: Record<string, unknown>;
  body: unknown;
}

/** Throws an invalid-argument error naming the first offending parameter or body field. */
export async function validateRequest(spec: SpecName, operationId: string, request: RequestParts): Promise<void> {
  const validate = (await load(spec))[operationId];
  if (!validate || validate(request)) return;
  const e = validate.errors?.[0];
  if (!e) throw invalidArgument(`invalid request for ${operationId}`);
  throw invalidArgument(describe(e));
}

function describe(e: AjvError): string {
  const [, where, ...rest] = e.instancePath.split('/');
  let field = rest.join('.');
  if (e.params && typeof e.params.missingProperty === 'string') field = [field, e.params.missingProperty].filter(Boolean).join('.');
  if (e.params && typeof e.params.additionalProperty === 'string') field = [field, e.params.additionalProperty].filter(Boolean).join('.');
  const place = where === 'query' ? 'query parameter' : where === 'path' ? 'path parameter' : 'body field';
  if (where === 'body' && !field) return `invalid request body: ${e.message}`;
  if (!where) return `invalid request: ${e.message}`;
  const allowed = Array.isArray(e.params?.allowedValues) ? ` (${(e.params!.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')})` : '';
  return `invalid ${place} ${JSON.stringify(field)}: ${e.message}${allowed}`;
}
