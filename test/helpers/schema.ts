// Checks answers against the response schemas of the generated (pinned + overlaid) specs.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ValidateFunction } from 'ajv';
import { pathToFileURL } from 'node:url';
import { projectRoot } from './service.js';

// The codegen modules are plain JS outside dist/: load them from the checkout.
const scriptUrl = (name: string) => pathToFileURL(join(projectRoot, 'scripts', name)).href;
const { createAjv } = (await import(scriptUrl('codegen-validators.mjs'))) as typeof import('../../scripts/codegen-validators.mjs');
const { rewriteRefs } = (await import(scriptUrl('codegen-lib.mjs'))) as typeof import('../../scripts/codegen-lib.mjs');

type Spec = 'docker' | 'libpod';
const docs = new Map<Spec, any>();
const ajvs = new Map<Spec, ReturnType<typeof createAjv>>();
const cache = new Map<string, ValidateFunction>();

function doc(spec: Spec): any {
  if (!docs.has(spec)) docs.set(spec, JSON.parse(readFileSync(join(projectRoot, 'generated', `${spec}.openapi.json`), 'utf8')));
  return docs.get(spec);
}

function ajv(spec: Spec) {
  let a = ajvs.get(spec);
  if (!a) {
    a = createAjv({ allErrors: true, code: { source: false } });
    a.addSchema({ $id: 'spec', $defs: rewriteRefs(doc(spec).components.schemas) });
    ajvs.set(spec, a);
  }
  return a;
}

function responseSchema(spec: Spec, operationId: string, status: number): unknown {
  const d = doc(spec);
  for (const item of Object.values<any>(d.paths)) {
    for (const op of Object.values<any>(item)) {
      if (op?.operationId !== operationId) continue;
      let response = op.responses[String(status)] ?? op.responses.default;
      if (!response) throw new Error(`${spec} ${operationId} documents no ${status} answer`);
      if (response.$ref) response = d.components.responses[response.$ref.split('/').pop()];
      const content = response.content ?? {};
      const media = content['application/json'] ?? Object.values<any>(content)[0];
      return media?.schema;
    }
  }
  throw new Error(`${spec} has no operation ${operationId}`);
}

/** Throws with every schema error when `body` does not match the documented answer. */
export function assertMatchesSchema(spec: Spec, operationId: string, status: number, body: unknown): void {
  const key = `${spec}:${operationId}:${status}`;
  let validate = cache.get(key);
  if (!validate) {
    const schema = responseSchema(spec, operationId, status);
    if (!schema) throw new Error(`${spec} ${operationId} ${status} has no schema to check against`);
    validate = ajv(spec).compile(rewriteRefs(schema) as object) as ValidateFunction;
    cache.set(key, validate);
  }
  if (!validate(body)) {
    throw new Error(`${spec} ${operationId} ${status} answer does not match its schema:\n${validate.errors!.map((e) => `  ${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`).join('\n')}`);
  }
}
