// The secrets store (no HTTP): several tspod processes creating, replacing and removing
// secrets on one storage root at once, and what a failed create leaves (nothing).
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { SecretStore } from '../../engine/secrets/store.js';

const run = promisify(execFile);

describe('secrets store', function () {
  this.timeout(60_000);
  let dir: string;
  let store: SecretStore;
  const dataFiles = () => fs.readdirSync(join(dir, 'filedriver')).sort();

  beforeEach(() => {
    dir = fs.mkdtempSync(join(tmpdir(), 'tspod-secrets-'));
    store = new SecretStore(dir);
  });
  afterEach(() => {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A separate node process running `body` with `store` open on the same directory; its stdout. */
  async function inOtherProcess(body: string): Promise<string> {
    const mod = pathToFileURL(join(process.cwd(), 'dist', 'engine', 'secrets', 'store.js')).href;
    const script = `
      const { SecretStore } = await import(${JSON.stringify(mod)});
      const store = new SecretStore(${JSON.stringify(dir)});
      ${body}
      store.close();`;
    return (await run(process.execPath, ['--input-type=module', '-e', script])).stdout;
  }

  it('gives a contested name to exactly one of several processes, and keeps only its data', async () => {
    const racers = Array.from({ length: 6 }, (_, i) =>
      inOtherProcess(`
        try {
          const r = await store.create({ name: 'contested', data: Buffer.from('from ${i}') });
          console.log('won ' + r.id);
        } catch (e) {
          console.log('lost ' + e.kind);
        }`),
    );
    const outcomes = (await Promise.all(racers)).map((o) => o.trim());
    const won = outcomes.filter((o) => o.startsWith('won '));
    expect(won, outcomes.join(', ')).to.have.length(1);
    expect(outcomes.filter((o) => o === 'lost conflict')).to.have.length(5);
    const id = won[0]!.slice(4);
    expect(store.lookup('contested').id).to.equal(id);
    expect(dataFiles()).to.deep.equal([id]);
  });

  it('keeps one secret per name under concurrent replaces from several processes', async () => {
    await store.create({ name: 'rotating', data: Buffer.from('v0') });
    await Promise.all(Array.from({ length: 5 }, (_, i) => inOtherProcess(`await store.create({ name: 'rotating', data: Buffer.from('v${i + 1}'), replace: true });`)));
    const all = store.db.all();
    expect(all.map((r) => r.name)).to.deep.equal(['rotating']);
    expect(dataFiles()).to.deep.equal([all[0]!.id]);
    expect((await store.data('rotating')).data.toString()).to.match(/^v[1-5]$/);
  });

  it('removes the data file of a create that loses, and the record of a remove from another process', async () => {
    const { id } = await store.create({ name: 'a', data: Buffer.from('x') });
    await store.create({ name: 'a', data: Buffer.from('y') }).then(
      () => expect.fail('a taken name was accepted'),
      (e: { kind?: string }) => expect(e.kind).to.equal('conflict'),
    );
    expect(dataFiles()).to.deep.equal([id]);
    await inOtherProcess(`await store.remove('a');`);
    expect(() => store.lookup('a')).to.throw(/no such secret/);
    expect(dataFiles()).to.deep.equal([]);
  });
});
