// Black-box: the service killed with containers running, exits handled by the cleanup command
// while it is down, and concurrent clients.
import { expect } from 'chai';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { processesWhere } from '../helpers/processes.js';
import { TestService, waitFor } from '../helpers/service.js';
import { loadBusyboxImage } from '../helpers/test-image.js';
import { canRunContainers, conmonsMentioning, inspect, IMAGE, mountsUnder, runContainer, shutdown, waitExit } from '../helpers/containers.js';

/** `tspod container cleanup` processes (and the exit commands starting them) of a run root. */
function cleanupsOf(runroot: string): number[] {
  return processesWhere((argv) => argv.includes('cleanup') && argv.includes(runroot)).map((p) => p.pid);
}

(canRunContainers() ? describe : describe.skip)('containers: recovery and concurrency (real containers)', function () {
  this.timeout(90_000);

  it('keeps containers across a SIGKILLed service: running ones stay controllable, exits meanwhile show their real code', async () => {
    const svc = await TestService.start();
    try {
      await loadBusyboxImage(svc);
      // The short-lived containers exit only once the service is gone (when the test creates
      // the trigger file), however long the starts take on a loaded machine.
      const trigger = join(svc.dir, 'trigger');
      mkdirSync(trigger);
      const afterTrigger = (code: number) => ({ Cmd: ['sh', '-c', `while [ ! -e /trigger/go ]; do sleep 0.05; done; exit ${code}`], HostConfig: { Binds: [`${trigger}:/trigger:ro`] } });
      const keep = await runContainer(svc, { Cmd: ['sh', '-c', 'trap "exit 21" TERM; while true; do sleep 0.1; done'] }, 'keep');
      const quick = await runContainer(svc, afterTrigger(7), 'quick');
      const rm = await runContainer(svc, { ...afterTrigger(1), HostConfig: { ...afterTrigger(1).HostConfig, AutoRemove: true } }, 'rmme');
      const rs = await runContainer(svc, { ...afterTrigger(3), HostConfig: { ...afterTrigger(3).HostConfig, RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 1 } } }, 'rs');
      svc.proc.kill('SIGKILL');
      await svc.exited;
      const killedAt = Date.now();
      writeFileSync(join(trigger, 'go'), '');
      // While the service is down, conmon's exit command (tspod container cleanup) handles the exits.
      // (A cleanup process applying the restart policy is alive until the container runs again.)
      await waitFor(() => conmonsMentioning(svc.runroot).length === 1 && cleanupsOf(svc.runroot).length === 0, 20_000, 'the exited containers to be cleaned up');
      await new Promise((r) => setTimeout(r, 300));
      await svc.start();
      const q = await inspect(svc, quick);
      expect(q.State).to.include({ Status: 'exited', ExitCode: 7, Running: false });
      expect(Date.parse(q.State.FinishedAt)).to.be.within(killedAt, Date.now() - 300);
      expect((await svc.request('GET', `/v1.40/containers/${rm}/json`)).status).to.equal(404);
      const r = await inspect(svc, rs);
      expect(r.RestartCount).to.equal(1);
      expect(r.State).to.include({ Status: 'exited', ExitCode: 3 });
      const k = await inspect(svc, keep);
      expect(k.State).to.include({ Status: 'running', Running: true });
      // Still controllable: exec, logs, stop.
      const e = await svc.request('POST', `/v1.40/containers/${keep}/exec`, { body: { Cmd: ['true'] } });
      expect(e.status).to.equal(201);
      expect((await svc.request('POST', `/v1.40/containers/${keep}/stop?t=5`)).status).to.equal(204);
      expect((await inspect(svc, keep)).State.ExitCode).to.equal(21);
      const events = await svc.request('GET', `/v1.40/events?since=0&until=${Math.ceil(Date.now() / 1000) + 1}&filters=${encodeURIComponent('{"event":["die"]}')}`);
      const died = events.text.trim().split('\n').map((l) => JSON.parse(l).Actor.Attributes.name);
      expect(died).to.include.members(['quick', 'rmme', 'rs', 'keep']);
    } finally {
      await shutdown(svc);
    }
  });

  it('settles a container that exited while no service and no cleanup ran (exit file only)', async () => {
    // An exit command that cannot run: only the next service start can notice the exit.
    const svc = await TestService.start({ env: { TSPOD_ENTRY: '/nonexistent/tspod.js' } });
    try {
      await loadBusyboxImage(svc);
      const id = await runContainer(svc, { Cmd: ['sh', '-c', 'sleep 1; exit 4'] });
      svc.proc.kill('SIGKILL');
      await svc.exited;
      await waitFor(() => conmonsMentioning(svc.runroot).length === 0, 10_000, 'conmon to exit');
      await new Promise((r) => setTimeout(r, 500));
      await svc.start();
      const j = await inspect(svc, id);
      expect(j.State).to.include({ Status: 'exited', ExitCode: 4 });
    } finally {
      await shutdown(svc);
    }
  });

  it('tears down, at its next start, the network a SIGKILLed service had not torn down yet', async () => {
    // A long linger, so that the kill surely lands in it however slow the machine.
    const svc = await TestService.start({ env: { TSPOD_NETWORK_LINGER_MS: '60000' } });
    try {
      await loadBusyboxImage(svc);
      const id = await runContainer(svc, { Cmd: ['true'] });
      expect(await waitExit(svc, id)).to.equal(0);
      // The service tears the network of an exited container down a moment after the exit (it lingers).
      svc.proc.kill('SIGKILL');
      await svc.exited;
      const netns = join(svc.runroot, 'netns', id);
      expect(existsSync(netns), 'the namespace before the restart').to.equal(true);
      await svc.start();
      await waitFor(() => !existsSync(netns) && readdirSync(join(svc.runroot, 'networks', 'sandboxes')).length === 0, 20_000, 'the network to be torn down');
      expect(mountsUnder(join(svc.runroot, 'netns'))).to.deep.equal([]);
      // The container itself is as it was: exited, and it starts again on the network.
      expect((await inspect(svc, id)).State).to.include({ Status: 'exited', ExitCode: 0 });
      expect((await svc.request('POST', `/v1.40/containers/${id}/start`)).status).to.equal(204);
      expect(await waitExit(svc, id)).to.equal(0);
    } finally {
      await shutdown(svc);
    }
  });

  it('answers 20 concurrent create/start/stop/remove cycles from several clients consistently', async () => {
    const svc = await TestService.start();
    try {
      await loadBusyboxImage(svc);
      const n = 20;
      const results = await Promise.all(
        Array.from({ length: n }, async (_, i) => {
          const c = await svc.request('POST', `/v1.40/containers/create?name=conc${i}`, { body: { Image: IMAGE, Cmd: ['sleep', '100'] } });
          expect(c.status, c.text).to.equal(201);
          const id = c.json().Id as string;
          const s = await svc.request('POST', `/v1.40/containers/${id}/start`);
          expect(s.status, s.text).to.equal(204);
          const [st1, st2] = await Promise.all([svc.request('POST', `/v1.40/containers/${id}/stop?t=0`), svc.request('POST', `/v1.40/containers/${id}/stop?t=0`)]);
          expect([st1.status, st2.status].sort()).to.deep.equal([204, 304]);
          const d = await svc.request('DELETE', `/v1.40/containers/${id}`);
          expect(d.status, d.text).to.equal(204);
          return id;
        }),
      );
      expect(new Set(results).size).to.equal(n);
      const list = await svc.request('GET', '/v1.40/containers/json?all=1');
      expect(list.json()).to.deep.equal([]);
      // Same names again, with racing duplicates: exactly one create per name wins.
      const dup = await Promise.all(Array.from({ length: 10 }, () => svc.request('POST', '/v1.40/containers/create?name=same', { body: { Image: IMAGE, Cmd: ['true'] } })));
      expect(dup.filter((r) => r.status === 201).length).to.equal(1);
      expect(dup.filter((r) => r.status === 409).length).to.equal(9);
      const id = dup.find((r) => r.status === 201)!.json().Id as string;
      await runContainer(svc, { Cmd: ['true'] }).then((x) => waitExit(svc, x));
      await svc.request('DELETE', `/v1.40/containers/${id}`);
    } finally {
      await shutdown(svc);
    }
  });
});
