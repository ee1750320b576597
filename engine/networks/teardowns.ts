// The network teardowns of this process that are under way or lingering, by container. A
// teardown asked for again (or settled) while pending is started at once and shared, so a
// container's next setup runs after its last teardown, and whoever needs a lingering teardown
// done (a static address, a full subnet, network rm, shutdown) gets it done now.

interface Pending {
  done: Promise<void>;
  /** Starts a lingering teardown now (nothing for one already running). */
  run: () => void;
}

export class PendingTeardowns {
  private readonly pending = new Map<string, Pending>();

  get size(): number {
    return this.pending.size;
  }

  /**
   * Runs `teardown` for `id`, after the delay `linger` resolves to (0: at once), unless
   * something starts it sooner. With a teardown of `id` already pending, that one is started
   * now and its promise returned instead.
   */
  schedule(id: string, teardown: () => Promise<void>, linger?: () => Promise<number>): Promise<void> {
    const existing = this.pending.get(id);
    if (existing) {
      existing.run();
      return existing.done;
    }
    let now = false;
    let wake = () => {
      now = true;
    };
    const entry: Pending = { run: () => wake(), done: Promise.resolve() };
    entry.done = (async () => {
      const ms = linger && !now ? await linger() : 0;
      if (ms > 0 && !now) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, ms);
          timer.unref();
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      await teardown();
    })();
    this.pending.set(id, entry);
    const forget = () => {
      if (this.pending.get(id) === entry) this.pending.delete(id);
    };
    entry.done.then(forget, forget);
    return entry.done;
  }

  /** Waits for the teardown of `id` if one is pending, starting it now if it lingers. */
  async settle(id: string): Promise<void> {
    const p = this.pending.get(id);
    if (!p) return;
    p.run();
    await p.done.catch(() => {});
  }

  /** Starts every lingering teardown now and waits for all (their errors went to their callers). */
  async settleAll(): Promise<void> {
    const all = [...this.pending.values()];
    for (const p of all) p.run();
    await Promise.all(all.map((p) => p.done.catch(() => {})));
  }
}
