// Black-box: what the create options do inside a real container (user, env, workdir, init,
// read-only rootfs, capabilities, rlimits, sysctls, OOM score, resources, hostname, /etc files,
// log size limit, stop signal, OOM kill).
import { expect } from 'chai';
import { statSync } from 'node:fs';
import type { TestService } from '../helpers/service.js';
import { canRunContainers, demux, inspect, runContainer, shutdown, startWithImage, textOf, waitExit } from '../helpers/containers.js';

async function output(svc: TestService, body: Record<string, unknown>): Promise<{ out: string; err: string; code: number; id: string }> {
  const id = await runContainer(svc, body);
  const code = await waitExit(svc, id);
  const frames = demux((await svc.request('GET', `/v1.40/containers/${id}/logs?stdout=1&stderr=1`)).body);
  await svc.request('DELETE', `/v1.40/containers/${id}`);
  return { out: textOf(frames, 1), err: textOf(frames, 2), code, id };
}

(canRunContainers() ? describe : describe.skip)('containers: create options inside the container (real containers)', function () {
  this.timeout(60_000);
  let svc: TestService;

  before(async function () {
    svc = await startWithImage();
  });
  after(async function () {
    await shutdown(svc);
  });

  it('user, groups, env, workdir, hostname, /etc/hosts and resolv.conf', async () => {
    const r = await output(svc, {
      User: 'nobody',
      Env: ['FOO=bar'],
      WorkingDir: '/tmp',
      Hostname: 'myhost',
      Cmd: ['sh', '-c', 'id -u; id -g; echo $FOO; pwd; hostname; cat /etc/hostname; grep -c myhost /etc/hosts; grep -c nameserver /etc/resolv.conf; echo $HOME'],
      HostConfig: { GroupAdd: ['daemon'], ExtraHosts: ['extra.example:10.1.2.3'], Dns: ['9.9.9.9'], NetworkMode: 'none' },
    });
    expect(r.out.split('\n')).to.deep.equal(['65534', '65534', 'bar', '/tmp', 'myhost', 'myhost', '1', '1', '/home', '']);
    const hosts = await output(svc, { Cmd: ['cat', '/etc/hosts'], HostConfig: { ExtraHosts: ['extra.example:10.1.2.3'], NetworkMode: 'none' } });
    expect(hosts.out).to.match(/^10\.1\.2\.3\textra\.example$/m);
    const dns = await output(svc, { Cmd: ['cat', '/etc/resolv.conf'], HostConfig: { Dns: ['9.9.9.9'], DnsSearch: ['example.org'], NetworkMode: 'none' } });
    expect(dns.out).to.equal('search example.org\nnameserver 9.9.9.9\n');
  });

  it('runs catatonit as PID 1 with Init', async () => {
    const r = await output(svc, { Cmd: ['sh', '-c', 'tr "\\0" " " < /proc/1/cmdline'], HostConfig: { Init: true } });
    expect(r.out).to.match(/^\/run\/podman-init -- sh -c/);
    const j = await output(svc, { Cmd: ['sh', '-c', 'tr "\\0" " " < /proc/1/cmdline; true'] });
    expect(j.out).to.match(/^sh -c/);
  });

  it('read-only rootfs, tmpfs, capabilities, rlimits, sysctls, OOM score adjustment', async () => {
    const ro = await output(svc, { Cmd: ['sh', '-c', 'touch /x 2>&1; touch /scratch/y && echo tmpfs-ok'], HostConfig: { ReadonlyRootfs: true, Tmpfs: { '/scratch': 'size=1m' } } });
    expect(ro.out).to.match(/Read-only file system/);
    expect(ro.out).to.contain('tmpfs-ok');
    const caps = await output(svc, { Cmd: ['sh', '-c', 'grep CapEff /proc/self/status'], HostConfig: { CapDrop: ['ALL'], CapAdd: ['NET_ADMIN'] } });
    expect(caps.out.trim()).to.equal('CapEff:\t0000000000001000');
    const lim = await output(svc, { Cmd: ['sh', '-c', 'ulimit -n; cat /proc/self/oom_score_adj; cat /proc/sys/net/ipv4/ip_unprivileged_port_start'], HostConfig: { Ulimits: [{ Name: 'nofile', Soft: 321, Hard: 654 }], OomScoreAdj: 500, Sysctls: { 'net.ipv4.ip_unprivileged_port_start': '80' } } });
    expect(lim.out.split('\n').slice(0, 3)).to.deep.equal(['321', '500', '80']);
    const priv = await output(svc, { Cmd: ['sh', '-c', 'grep CapEff /proc/self/status'], HostConfig: { Privileged: true } });
    expect(priv.out).not.to.contain('00000000a80425fb');
  });

  it('applies memory, pids and CPU limits to the cgroup', async () => {
    const id = await runContainer(svc, { Cmd: ['sleep', '60'], HostConfig: { Memory: 32 << 20, PidsLimit: 20, CpuShares: 512, CpuQuota: 50000, CpuPeriod: 100000 } });
    const st = (await svc.request('GET', `/v1.40/containers/${id}/stats?stream=false`)).json();
    expect(st.memory_stats.limit).to.equal(32 << 20);
    expect(st.pids_stats.limit).to.equal(20);
    const j = await inspect(svc, id);
    expect(j.HostConfig).to.include({ Memory: 32 << 20, PidsLimit: 20, CpuShares: 512, CpuQuota: 50000, CpuPeriod: 100000 });
    const up = await svc.request('POST', `/v1.40/containers/${id}/update`, { body: { Memory: 64 << 20, MemorySwap: -1 } });
    if (up.status === 200) {
      const st2 = (await svc.request('GET', `/v1.40/containers/${id}/stats?stream=false`)).json();
      expect(st2.memory_stats.limit).to.equal(64 << 20);
    }
    await svc.request('DELETE', `/v1.40/containers/${id}?force=1`);
  });

  it('marks an OOM-killed container', async () => {
    const id = await runContainer(svc, { Cmd: ['sh', '-c', 'head -c 200m /dev/zero | tail'], HostConfig: { Memory: 16 << 20, MemorySwap: 16 << 20 } });
    const code = await waitExit(svc, id);
    const j = await inspect(svc, id);
    expect(code).to.equal(137);
    expect(j.State.OOMKilled).to.equal(true);
    await svc.request('DELETE', `/v1.40/containers/${id}`);
  });

  it('stops with the configured stop signal', async () => {
    const id = await runContainer(svc, { StopSignal: 'SIGUSR1', Cmd: ['sh', '-c', 'trap "exit 30" USR1; while true; do sleep 0.1; done'] });
    await new Promise((r) => setTimeout(r, 200));
    expect((await svc.request('POST', `/v1.40/containers/${id}/stop`)).status).to.equal(204);
    expect((await inspect(svc, id)).State.ExitCode).to.equal(30);
    expect((await inspect(svc, id)).Config.StopSignal).to.equal('SIGUSR1');
    await svc.request('DELETE', `/v1.40/containers/${id}`);
  });

  it('caps the k8s-file log at max-size', async () => {
    const id = await runContainer(svc, { Cmd: ['sh', '-c', 'i=0; while [ $i -lt 3000 ]; do echo line-$i-0123456789; i=$((i+1)); done'], HostConfig: { LogConfig: { Type: 'json-file', Config: { 'max-size': '20k' } } } });
    await waitExit(svc, id);
    const j = await inspect(svc, id);
    expect(j.HostConfig.LogConfig.Type).to.equal('k8s-file');
    expect(statSync(j.LogPath).size).to.be.at.most(40 * 1024);
    const logs = textOf(demux((await svc.request('GET', `/v1.40/containers/${id}/logs?stdout=1`)).body), 1);
    expect(logs.trim().split('\n').at(-1)).to.equal('line-2999-0123456789');
    await svc.request('DELETE', `/v1.40/containers/${id}`);
  });
});
