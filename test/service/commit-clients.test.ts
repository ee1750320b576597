// docker commit and podman --remote commit: a new image from a container's changes, then a
// container from that image.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { canRunContainers, IMAGE, shutdown, startWithImage } from '../helpers/containers.js';
import type { TestService } from '../helpers/service.js';
import { podman as podmanRun } from '../helpers/clients.js';

describe('commit with the docker CLI and podman --remote', function () {
  this.timeout(120_000);
  let svc: TestService;
  const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { env: { ...process.env, DOCKER_HOST: `unix://${svc.socketPath}` }, encoding: 'utf8' }).trim();

  before(async function () {
    // The docker CLI and podman are optional on a developer machine; containers need root.
    if (!existsSync('/usr/local/bin/docker') || !existsSync('/usr/bin/podman') || !canRunContainers()) this.skip();
    svc = await startWithImage();
  });
  after(() => shutdown(svc));

  it('docker commit with changes, then run the new image', () => {
    run('docker', ['run', '--name', 'c1', IMAGE, 'sh', '-c', 'echo committed > /marker']);
    const id = run('docker', ['commit', '-c', 'ENV FROM_COMMIT=yes', '-c', 'CMD ["cat", "/marker"]', 'c1', 'localhost/committed:1']);
    expect(id).to.match(/^sha256:[0-9a-f]{64}$/);
    expect(run('docker', ['run', '--rm', 'localhost/committed:1'])).to.equal('committed');
    expect(run('docker', ['run', '--rm', 'localhost/committed:1', 'sh', '-c', 'echo $FROM_COMMIT'])).to.equal('yes');
    run('docker', ['rm', 'c1']);
  });

  it('docker commit -a -m: one more layer and history entry, author and comment in inspect', () => {
    const baseLayers = Number(run('docker', ['inspect', '-f', '{{len .RootFS.Layers}}', IMAGE]));
    const baseHistory = run('docker', ['history', '-q', '--no-trunc', IMAGE]).split('\n').length;
    run('docker', ['run', '--name', 'c3', IMAGE, 'sh', '-c', 'echo three > /three && rm /etc/motd']);
    run('docker', ['commit', '-a', 'me', '-m', 'msg', 'c3', 'localhost/committed:3']);
    expect(run('docker', ['inspect', '-f', '{{.Author}}|{{.Comment}}|{{len .RootFS.Layers}}', 'localhost/committed:3'])).to.equal(`me|msg|${baseLayers + 1}`);
    const history = run('docker', ['history', '--no-trunc', '--format', '{{.CreatedBy}}|{{.Comment}}', 'localhost/committed:3']).split('\n');
    expect(history).to.have.length(baseHistory + 1);
    expect(history[0]).to.equal('sh -c echo three > /three && rm /etc/motd|msg');
    expect(run('docker', ['run', '--rm', 'localhost/committed:3', 'sh', '-c', 'cat /three; test -e /etc/motd || echo motd-gone'])).to.equal('three\nmotd-gone');
    run('docker', ['rm', 'c3']);
  });

  it('podman --remote commit', () => {
    const podman = (...args: string[]) => run('podman', ['--remote', '--url', `unix://${svc.socketPath}`, ...args]);
    podman('run', '--name', 'c2', IMAGE, 'sh', '-c', 'echo from-podman > /marker');
    podman('commit', '-q', 'c2', 'localhost/committed:2');
    expect(podman('run', '--rm', 'localhost/committed:2', 'cat', '/marker')).to.equal('from-podman');
    podman('commit', '-q', '--author', 'Pod Author', 'c2', 'localhost/committed:4');
    expect(podman('image', 'inspect', '--format', '{{.Author}}', 'localhost/committed:4')).to.equal('Pod Author');
    const layers = (name: string) => JSON.parse(podman('image', 'inspect', '--format', '{{json .RootFS.Layers}}', name)) as string[];
    expect(layers('localhost/committed:4')).to.deep.equal([...layers(IMAGE), layers('localhost/committed:4').at(-1)]).and.to.have.length(layers(IMAGE).length + 1);
    // -m needs the docker format, as with Podman itself.
    const refused = podmanRun(svc, 'commit', '-q', '-m', 'msg', 'c2', 'localhost/committed:5');
    expect(refused.status).to.equal(125);
    expect(refused.stderr).to.include('messages are only compatible with the docker image format (-f docker)');
    podman('commit', '-q', '-f', 'docker', '-m', 'msg', '-a', 'me', 'c2', 'localhost/committed:5');
    expect(podman('history', '--format', '{{.CreatedBy}}|{{.Comment}}', 'localhost/committed:5').split('\n')[0]).to.equal('sh -c echo from-podman > /marker|msg');
    podman('rm', 'c2');
  });
});
