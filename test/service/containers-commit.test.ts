// Commit: a new image from a container's filesystem and configuration, then a container from
// it. Through POST /commit once the images handlers route it to engine.containerCommit; until
// then through the engine itself (createLocalEngine on the service's storage).
import { expect } from 'chai';
import type { Engine } from '../../engine/api.js';
import { loadContainersConf } from '../../engine/config/containers-conf.js';
import { fromDockerCreate } from '../../engine/containers/api.js';
import { createLocalEngine } from '../../engine/local-engine.js';
import { TestService } from '../helpers/service.js';
import { loadBusyboxImage } from '../helpers/test-image.js';
import { canRunContainers, conmonsMentioning, IMAGE, mountsUnder } from '../helpers/containers.js';

async function collect(it: AsyncIterable<{ stream: string; data: Buffer }>): Promise<string> {
  let s = '';
  for await (const c of it) s += c.data.toString();
  return s;
}

(canRunContainers() ? describe : describe.skip)('containers: commit (real containers)', function () {
  this.timeout(90_000);

  it('commits a container (files, config, changes) and runs the new image', async () => {
    const svc = await TestService.start();
    let engine: Engine | undefined;
    try {
      await loadBusyboxImage(svc);
      const viaApi = await svc.request('POST', '/v1.40/commit?container=nothing');
      await svc.stop();
      engine = await createLocalEngine({ root: svc.root, runroot: svc.runroot, rootless: false, conf: loadContainersConf({ rootless: false }) });
      const { id } = await engine.containerCreate(fromDockerCreate({ Image: IMAGE, Env: ['GREETING=hello'], WorkingDir: '/srv', Cmd: ['sh', '-c', 'mkdir -p /srv && echo committed > /srv/file && sleep 300'], HostConfig: { NetworkMode: 'none' } }));
      await engine.containerStart(id);
      for (let i = 0; i < 50; i++) {
        const ch = await engine.containerChanges(id);
        if (ch.some((c) => c.path === '/srv/file')) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const img = await engine.containerCommit(id, { reference: 'localhost/committed:v1', changes: ['LABEL stage=test', 'CMD ["sh", "-c", "cat /srv/file; echo $GREETING; pwd"]'], message: 'a test commit' });
      expect(img.id).to.match(/^[0-9a-f]{64}$/);
      expect((await engine.containerInspect(id)).state.status).to.equal('running'); // paused for the commit only
      const run = await engine.containerCreate(fromDockerCreate({ Image: 'localhost/committed:v1', HostConfig: { NetworkMode: 'none' } }));
      const ins = await engine.containerInspect(run.id);
      expect(ins.spec.labels).to.include({ stage: 'test' });
      expect(ins.spec.imageId).to.equal(img.id);
      await engine.containerStart(run.id);
      await engine.containerWait(run.id, [], new AbortController().signal);
      const logs = await engine.containerLogs(run.id, { stdout: true }, new AbortController().signal);
      expect(await collect(logs.lines)).to.equal('committed\nhello\n/srv\n');
      await engine.containerRemove(run.id);
      await engine.containerRemove(id, { force: true });
      if (viaApi.status !== 501) expect(viaApi.status).to.equal(404);
    } finally {
      await engine?.close();
      for (let i = 0; i < 50 && conmonsMentioning(svc.runroot).length; i++) await new Promise((r) => setTimeout(r, 100));
      expect(mountsUnder(svc.dir)).to.deep.equal([]);
      await svc.cleanup();
    }
  });
});
