// Compiles every operation's request schema with Ajv into one standalone ES module, so the
// service never compiles a schema at run time (startup and first-request latency).
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import standaloneCode from 'ajv/dist/standalone/index.js';
import { rewriteRefs } from './codegen-lib.mjs';

// Formats the upstream specs use that ajv-formats does not know. They carry no constraint we
// can check (Go's uint64 does not fit a JS number, "dateTime" is a Docker typo of date-time).
export const UNCHECKED_FORMATS = ['uint8', 'uint16', 'uint32', 'uint64', 'int8', 'int16', 'json', 'dateTime', 'ip-address', 'CIDR', 'cidr', 'string', 'ipv4/ipv6', 'byte', 'binary', 'int32', 'int64', 'float', 'double'];
// OpenAPI keywords that are annotations for JSON Schema purposes.
export const OPENAPI_KEYWORDS = ['discriminator', 'xml', 'externalDocs', 'example', 'x-nullable'];

export function createAjv(extra = {}) {
  const ajv = new Ajv({
    strict: true,
    strictTypes: false, // upstream schemas put `nullable` and `properties` on untyped nodes
    allErrors: false,
    inlineRefs: false,
    code: { source: true, esm: true, optimize: 1 },
    ...extra,
  });
  addFormats.default(ajv, { mode: 'fast' });
  for (const f of UNCHECKED_FORMATS) if (!ajv.formats[f]) ajv.addFormat(f, true);
  for (const f of ['int32', 'int64', 'float', 'double', 'byte', 'binary']) ajv.addFormat(f, true);
  ajv.addVocabulary(OPENAPI_KEYWORDS);
  return ajv;
}

export function compileValidators(doc, requestSchemas) {
  const ajv = createAjv();
  // Requests only: Go clients send any pointer field they leave unset as null, scalars too
  // (the docker CLI's update sends "MemorySwappiness": null), so request validation accepts
  // null everywhere. Answers (checked by the tests against generated/*.openapi.json) do not.
  ajv.addSchema({ $id: 'spec', $defs: nullableEverywhere(rewriteRefs(doc.components?.schemas ?? {})) });
  const exports = {};
  for (const [operationId, schema] of Object.entries(requestSchemas)) {
    ajv.addSchema({ $id: operationId, ...schema, properties: { ...schema.properties, ...(schema.properties.body ? { body: nullableEverywhere(schema.properties.body) } : {}) } });
    exports[operationId] = operationId;
  }
  return esmRuntimeImports(standaloneCode.default(ajv, exports));
}

function nullableEverywhere(node) {
  if (Array.isArray(node)) return node.map(nullableEverywhere);
  if (node == null || typeof node !== 'object') return node;
  const copy = {};
  for (const [k, v] of Object.entries(node)) copy[k] = k === 'enum' || k === 'required' || k === 'default' ? v : nullableEverywhere(v);
  if (typeof copy.type === 'string') {
    copy.nullable = true;
    if (Array.isArray(copy.enum) && !copy.enum.includes(null)) copy.enum = [...copy.enum, null];
  }
  return copy;
}

// Ajv's standalone output `require`s its runtime helpers even in ESM mode; turn those into imports.
function esmRuntimeImports(code) {
  const modules = [];
  const body = code.replace(/require\("([^"]+)"\)/g, (_, mod) => {
    if (!modules.includes(mod)) modules.push(mod);
    return `__runtime${modules.indexOf(mod)}`;
  });
  const imports = modules.map((mod, i) => `import __runtime${i} from ${JSON.stringify(mod + '.js')};\n`).join('');
  return imports + body.replace(/^"use strict";/, '');
}

