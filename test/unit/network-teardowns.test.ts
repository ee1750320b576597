// The ordering of a process's network teardowns (engine/networks/teardowns.ts): lingering ones
// wait their delay unless something needs them done, a teardown asked for twice runs once.
import { expect } from 'chai';
import { PendingTeardowns } from '../../engine/networks/teardowns.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('networks: pending teardowns', () => {
  it('runs a teardown without linger at once, and forgets it when done', async () => {
    const t = new PendingTeardowns();
    const ran: string[] = [];
    await t.schedule('a', async () => void ran.push('a'));
    expect(ran).to.deep.equal(['a']);
    expect(t.size).to.equal(0);
  });

  it('lets a lingering teardown wait until settled, and shares it with a second request', async () => {
    const t = new PendingTeardowns();
    const ran: string[] = [];
    const first = t.schedule('a', async () => void ran.push('a'), async () => 600_000);
    await tick();
    expect(ran).to.deep.equal([]);
    expect(t.size).to.equal(1);
    // Asked again (a remove, a setup of the same container): started now, run once.
    const second = t.schedule('a', async () => void ran.push('again'));
    await Promise.all([first, second]);
    expect(ran).to.deep.equal(['a']);
    expect(t.size).to.equal(0);
  });

  it('settles one container, or all, starting lingering ones; errors stay with their callers', async () => {
    const t = new PendingTeardowns();
    const ran: string[] = [];
    const a = t.schedule('a', async () => void ran.push('a'), async () => 600_000);
    const b = t.schedule('b', async () => {
      ran.push('b');
      throw new Error('b failed');
    }, async () => 600_000);
    b.catch(() => {});
    await t.settle('a');
    await a;
    expect(ran).to.deep.equal(['a']);
    await t.settleAll();
    expect(ran).to.deep.equal(['a', 'b']);
    await b.then(() => expect.fail('b should fail'), (err: Error) => expect(err.message).to.equal('b failed'));
    expect(t.size).to.equal(0);
  });

  it('a linger of 0 (nothing may linger) runs at once; a settle during the linger decision still runs it', async () => {
    const t = new PendingTeardowns();
    const ran: string[] = [];
    await t.schedule('a', async () => void ran.push('a'), async () => 0);
    let decide!: (ms: number) => void;
    const c = t.schedule('c', async () => void ran.push('c'), () => new Promise<number>((r) => (decide = r)));
    const settled = t.settle('c');
    decide(600_000);
    await Promise.all([c, settled]);
    expect(ran).to.deep.equal(['a', 'c']);
  });
});
