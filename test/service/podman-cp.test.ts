// podman --remote cp both ways (it stats with HEAD /libpod/containers/{name}/archive and takes
// the destination from the stat's linkTarget and isDir), and docker update with null fields.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canRunContainers, IMAGE, shutdown, startWithImage } from '../helpers/containers.js';
import type { TestService } from '../helpers/service.js';

describe('podman cp and docker update against the service', function () {
  this.timeout(120_000);
  let svc: TestService;
  let dir: string;
  const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { env: { ...process.env, DOCKER_HOST: `unix://${svc.socketPath}` }, encoding: 'utf8' }).trim();
  const podman = (...args: string[]) => run('podman', ['--remote', '--url', `unix://${svc.socketPath}`, ...args]);

  before(async function () {
    // The docker CLI and podman are optional on a developer machine; containers need root.
    if (!existsSync('/usr/local/bin/docker') || !existsSync('/usr/bin/podman') || !canRunContainers()) this.skip();
    svc = await startWithImage();
    dir = mkdtempSync(join(tmpdir(), 'tspod-cp-'));
    run('docker', ['run', '-d', '--name', 'cp1', IMAGE, 'sleep', '60']);
  });
  after(async () => {
    await shutdown(svc); // removes containers, checks for leaks, cleans up
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('podman cp copies a file into a new path and back out', () => {
    writeFileSync(join(dir, 'in.txt'), 'hello from the host\n');
    podman('cp', join(dir, 'in.txt'), 'cp1:/tmp/copied.txt');
    expect(run('docker', ['exec', 'cp1', 'cat', '/tmp/copied.txt'])).to.equal('hello from the host');
    podman('cp', 'cp1:/tmp/copied.txt', join(dir, 'out.txt'));
    expect(readFileSync(join(dir, 'out.txt'), 'utf8')).to.equal('hello from the host\n');
    podman('cp', join(dir, 'in.txt'), 'cp1:/tmp/');
    expect(run('docker', ['exec', 'cp1', 'cat', '/tmp/in.txt'])).to.equal('hello from the host');
  });

  it('docker update changes limits (the CLI sends null for fields it leaves alone)', () => {
    run('docker', ['update', '--memory', '64m', '--memory-swap', '128m', 'cp1']);
    expect(run('docker', ['inspect', '-f', '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}', 'cp1'])).to.equal(`${64 * 1024 * 1024} ${128 * 1024 * 1024}`);
  });
});
