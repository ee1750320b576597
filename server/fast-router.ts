// A precompiled operation matcher for openapi-backend's router. openapi-backend 5.21 rebuilds
// its operation list with lodash and compiles a RegExp per operation on every request
// (OpenAPIRouter.matchOperation), which costs more than the rest of a /_ping. This matcher
// keeps its semantics: trailing slashes ignored, an exact path before templates, templates
// with more literal characters first, `{param}` matching one path segment, 405 when the path
// exists with other methods, 404 otherwise (thrown with openapi-backend's messages when strict).

export interface RoutableOperation {
  path: string;
  method: string;
}

interface Template<O> {
  regex: RegExp;
  literalLength: number;
  byMethod: Map<string, O>;
}

export function compileMatcher<O extends RoutableOperation>(operations: O[]) {
  const exact = new Map<string, Map<string, O>>();
  const templates = new Map<string, Template<O>>();
  for (const op of operations) {
    if (!op.path.includes('{')) {
      if (!exact.has(op.path)) exact.set(op.path, new Map());
      exact.get(op.path)!.set(op.method, op);
      continue;
    }
    let t = templates.get(op.path);
    if (!t) {
      const source = op.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}/g, '[^/]+');
      t = { regex: new RegExp(`^${source}$`), literalLength: op.path.replace(/\{[^}]*\}/g, '').length, byMethod: new Map() };
      templates.set(op.path, t);
    }
    t.byMethod.set(op.method, op);
  }
  const ordered = [...templates.values()].sort((a, b) => b.literalLength - a.literalLength);

  return (method: string, rawPath: string, strict: boolean): O | undefined => {
    let path = rawPath;
    const q = path.indexOf('?');
    if (q >= 0) path = path.slice(0, q);
    while (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
    const m = method.toLowerCase();
    let pathExists = false;
    const fixed = exact.get(path);
    if (fixed) {
      const op = fixed.get(m);
      if (op) return op;
      pathExists = true;
    }
    for (const t of ordered) {
      if (!t.regex.test(path)) continue;
      const op = t.byMethod.get(m);
      if (op) return op;
      pathExists = true;
    }
    if (!strict) return undefined;
    throw new Error(pathExists ? '405-methodNotAllowed: this method is not registered for the route' : '404-notFound: no route matches request');
  };
}
