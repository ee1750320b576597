// Checks on the project itself: generated/ matches a fresh codegen run, and dependencies point
// one way (the engine knows nothing of HTTP, the server, the handlers or the generated API).
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../helpers/service.js';

const run = promisify(execFile);

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('project', function () {
  this.timeout(120_000);

  it('generated/ is what codegen makes of the pinned specs and overlays', async () => {
    const { stdout } = await run(process.execPath, [join(projectRoot, 'scripts', 'codegen.mjs'), '--check'], { cwd: projectRoot });
    expect(stdout).to.contain('up to date');
  });

  it('the engine imports nothing of HTTP, the server, the handlers or the generated API', () => {
    const forbidden = /from '(koa|@koa\/[^']+|openapi-backend|node:http|http)'|from '(\.\.\/)+(server|handlers|generated|cli)\//;
    const offenders = sources(join(projectRoot, 'engine')).flatMap((file) =>
      readFileSync(file, 'utf8')
        .split('\n')
        .filter((line) => /^\s*(import|export) .* from /.test(line) && forbidden.test(line))
        .map((line) => `${relative(projectRoot, file)}: ${line.trim()}`),
    );
    expect(offenders).to.deep.equal([]);
  });

  it('handlers reach the engine through its interface only', () => {
    const offenders = sources(join(projectRoot, 'handlers')).flatMap((file) =>
      readFileSync(file, 'utf8')
        .split('\n')
        // The engine's interface: engine/api.ts, errors, and each domain's api.ts/types.ts
        // (interfaces, option parsers, pure converters); never stores, runtimes or processes.
        .filter((line) => /^\s*import (?!type ).* from '(\.\.\/)+engine\/(?!api\.js|errors\.js|events\/time\.js|[a-z-]+\/(api|types)\.js)/.test(line))
        .map((line) => `${relative(projectRoot, file)}: ${line.trim()}`),
    );
    expect(offenders).to.deep.equal([]);
  });
});
