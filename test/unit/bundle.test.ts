// The bundle's pipeline script (scripts/bundle.mjs, server/load-pipeline.ts), as `npm test`'s
// build made it: it runs, V8 takes its code cache in this node, it carries the validators, and
// its source is ASCII (so V8 holds it as a one-byte string).
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runScript, type Pipeline } from '../../server/load-pipeline.js';
import { projectRoot } from '../helpers/service.js';

describe('bundled pipeline script', () => {
  const file = join(projectRoot, 'dist', 'bundle', 'pipeline.script.js');

  it('runs with the code cache the build made, and carries the validators', async () => {
    const run = await runScript(file);
    expect(run.cached, 'code cache taken').to.equal(true);
    const p = run.exports as Pipeline & { loadValidators(spec: string): Promise<Record<string, unknown>> };
    expect(p.createApp).to.be.a('function');
    expect(p.createLocalEngine).to.be.a('function');
    expect((await p.loadValidators('docker')).ContainerList).to.be.a('function');
    expect((await p.loadValidators('libpod')).ContainerListLibpod).to.be.a('function');
  });

  it('is ASCII', () => {
    const text = readFileSync(file, 'latin1');
    expect(/[^\x00-\x7f]/.exec(text)?.index).to.equal(undefined);
  });
});
