// Pure transforms used by codegen.mjs on a converted OpenAPI 3 document.

/** Resolves an RFC 6901 JSON pointer to [parent, key]. */
function locate(doc, pointer, where) {
  const parts = pointer.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  let parent = doc;
  for (const part of parts.slice(0, -1)) {
    if (parent == null || typeof parent !== 'object' || !(part in parent)) throw new Error(`${where}: ${pointer} does not exist`);
    parent = parent[part];
  }
  return [parent, parts[parts.length - 1]];
}

/**
 * Applies our overlay patches (a subset of RFC 6902: add, replace, remove) to the document.
 * Each patch carries a `why`, so the overlay file documents the upstream error it fixes.
 * A patch whose target does not exist fails codegen: a new upstream version must be looked at.
 */
export function applyOverlay(doc, patches, where) {
  for (const patch of patches) {
    if (!patch.why) throw new Error(`${where}: patch ${patch.path} has no "why"`);
    const [parent, key] = locate(doc, patch.path, where);
    switch (patch.op) {
      case 'add':
        if (Array.isArray(parent)) parent.splice(key === '-' ? parent.length : Number(key), 0, patch.value);
        else parent[key] = patch.value;
        break;
      case 'replace':
        if (!(key in parent)) throw new Error(`${where}: replace target ${patch.path} does not exist`);
        parent[key] = patch.value;
        break;
      case 'remove':
        if (!(key in parent)) throw new Error(`${where}: remove target ${patch.path} does not exist`);
        if (Array.isArray(parent)) parent.splice(Number(key), 1);
        else delete parent[key];
        break;
      default:
        throw new Error(`${where}: unsupported op ${patch.op}`);
    }
  }
}

// Keys whose values are maps of user-chosen names (property names, status codes, paths...):
// their own keys are never keywords, so prose stripping must not touch them.
const NAMED_MAPS = new Set([
  'properties', 'patternProperties', 'schemas', 'responses', 'parameters', 'paths', 'headers',
  'content', 'requestBodies', 'securitySchemes', 'definitions', '$defs', 'links', 'callbacks', 'examples',
]);

function walkSchemas(node, visit, inNamedMap = false) {
  if (Array.isArray(node)) {
    for (const item of node) walkSchemas(item, visit);
    return;
  }
  if (node == null || typeof node !== 'object') return;
  if (!inNamedMap) visit(node);
  for (const [key, value] of Object.entries(node)) {
    const named = !inNamedMap && NAMED_MAPS.has(key) && value && typeof value === 'object' && !Array.isArray(value);
    // `parameters` of an operation is an array of objects, not a map: walk it normally.
    walkSchemas(value, visit, named);
  }
}

const PROSE = ['description', 'summary', 'example', 'examples', 'title', 'tags', 'externalDocs', 'x-displayName', 'x-omitempty'];

/**
 * Drops prose and client-only annotations: generated/ carries structure only. Response objects
 * get back an empty `description`, which OpenAPI 3 requires.
 */
export function stripProse(doc) {
  walkSchemas(doc, (node) => {
    for (const key of PROSE) delete node[key];
    for (const key of Object.keys(node)) if (key.startsWith('x-go-') || key.startsWith('x-client-')) delete node[key];
  });
  for (const methods of Object.values(doc.paths ?? {})) {
    for (const op of Object.values(methods)) {
      if (!op || typeof op !== 'object' || !op.responses) continue;
      for (const response of Object.values(op.responses)) if (!('$ref' in response)) response.description = '';
    }
  }
  for (const response of Object.values(doc.components?.responses ?? {})) response.description = '';
}

/**
 * Go clients (the docker CLI, podman-remote, docker-compose through docker-py's Go peers)
 * encode nil slices, maps and struct pointers as `null`, and the Go servers do the same in
 * answers. The upstream specs never say so; without this, the real `docker create` body fails
 * validation in a dozen places. Every array and object schema therefore accepts null.
 */
export function relaxForGoClients(doc) {
  walkSchemas(doc.components?.schemas ?? {}, markNullable, true);
  for (const methods of Object.values(doc.paths ?? {})) {
    for (const op of Object.values(methods)) {
      if (op && typeof op === 'object' && op.requestBody) walkSchemas(op.requestBody, markNullable);
      if (op && typeof op === 'object' && op.responses) walkSchemas(op.responses, markNullable);
    }
  }
}

function markNullable(node) {
  if ((node.type === 'array' || node.type === 'object') && !('$ref' in node)) node.nullable = true;
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

function deref(doc, node) {
  let seen = 0;
  while (node && node.$ref) {
    if (++seen > 20) throw new Error(`ref loop at ${node.$ref}`);
    const [, ...parts] = node.$ref.split('/');
    node = parts.reduce((n, p) => n?.[p.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
  }
  return node;
}

function operationsOf(doc) {
  const ops = [];
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    const shared = item.parameters ?? [];
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      if (!op.operationId) throw new Error(`${method.toUpperCase()} ${path} has no operationId`);
      const own = (op.parameters ?? []).map((p) => deref(doc, p));
      const names = new Set(own.map((p) => `${p.in}:${p.name}`));
      const params = [...own, ...shared.map((p) => deref(doc, p)).filter((p) => !names.has(`${p.in}:${p.name}`))];
      ops.push({ path, method, op, params });
    }
  }
  return ops;
}

function mediaKind(doc, op) {
  const body = deref(doc, op.requestBody);
  if (!body) return { kind: 'none', required: false };
  const types = Object.keys(body.content ?? {});
  const json = types.find((t) => t === 'application/json' || t.endsWith('+json'));
  // Libpod's swagger lists application/json and application/x-tar for every body; a body whose
  // schema is a plain (binary) string is a stream whatever the media types say.
  const schema = json ? deref(doc, body.content[json].schema) : undefined;
  const kind = schema && schema.type !== 'string' ? 'json' : 'stream';
  return { kind, required: Boolean(body.required), schema: json ? body.content[json].schema : undefined, types };
}

/** What routing and query normalising need at runtime, per operation. */
export function buildRouteTable(doc) {
  const paths = {};
  const operations = {};
  for (const { path, method, op, params } of operationsOf(doc)) {
    const query = {};
    for (const p of params.filter((p) => p.in === 'query')) {
      const schema = deref(doc, p.schema) ?? {};
      query[p.name] = schema.type === 'array' ? `array:${deref(doc, schema.items)?.type ?? 'string'}` : schema.type ?? 'string';
    }
    const body = mediaKind(doc, op);
    operations[op.operationId] = { method: method.toUpperCase(), path, query, body: body.kind };
    // openapi-backend needs only the template, operationId and the path parameters to route.
    paths[path] ??= {};
    paths[path][method] = {
      operationId: op.operationId,
      parameters: params.filter((p) => p.in === 'path').map((p) => ({ name: p.name, in: 'path', required: true, schema: { type: 'string' } })),
      responses: { default: { description: '' } },
    };
  }
  return { definition: { openapi: '3.0.0', info: doc.info, paths }, operations };
}

/**
 * One JSON Schema per operation for the normalised request `{path, query, body}`. Component
 * references point into a shared `spec` schema so the compiled code shares them.
 */
export function buildRequestSchemas(doc) {
  const out = {};
  for (const { op, params } of operationsOf(doc)) {
    const request = { type: 'object', properties: {}, required: [] };
    for (const where of ['path', 'query']) {
      const list = params.filter((p) => p.in === where);
      const group = { type: 'object', properties: {}, required: [] };
      for (const p of list) {
        group.properties[p.name] = rewriteRefs(p.schema ?? {});
        if (p.required) group.required.push(p.name);
      }
      if (!group.required.length) delete group.required;
      request.properties[where] = group;
    }
    const body = mediaKind(doc, op);
    if (body.kind === 'json' && body.schema) {
      request.properties.body = rewriteRefs(body.schema);
      if (body.required) request.required.push('body');
    }
    if (!request.required.length) delete request.required;
    out[op.operationId] = request;
  }
  return out;
}

export function rewriteRefs(node) {
  if (Array.isArray(node)) return node.map(rewriteRefs);
  if (node == null || typeof node !== 'object') return node;
  const copy = {};
  for (const [k, v] of Object.entries(node)) {
    copy[k] = k === '$ref' && typeof v === 'string' ? v.replace('#/components/schemas/', 'spec#/$defs/') : rewriteRefs(v);
  }
  return copy;
}
