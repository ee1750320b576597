// Black-box: secrets used by real containers, as Podman has them. Mounted secrets appear at
// /run/secrets/<target or name> (or an absolute target) read-only, with the given owner and
// mode, from a copy made at create; env secrets set a variable from the secret at each start;
// an unknown secret fails the create with nothing left; removing a used secret is allowed;
// inspect shows Config.Secrets. Then podman --remote as a user runs it. Ends with the leak
// check of the container tests.
import { expect } from 'chai';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { havePodman, ok, podman } from '../helpers/clients.js';
import { canRunContainers, demux, IMAGE, shutdown, startWithImage, textOf } from '../helpers/containers.js';
import { assertMatchesSchema } from '../helpers/schema.js';
import type { TestService } from '../helpers/service.js';

(canRunContainers() ? describe : describe.skip)('secrets in containers (real containers)', function () {
  this.timeout(90_000);
  let svc: TestService;

  const secret = async (name: string, data: string) => {
    const r = await svc.request('POST', `/v5.1.0/libpod/secrets/create?name=${name}`, { body: data, headers: { 'Content-Type': 'application/octet-stream' } });
    expect(r.status, r.text).to.equal(201);
    return r.json().ID as string;
  };
  const createLibpod = (body: Record<string, unknown>) => svc.request('POST', '/v5.1.0/libpod/containers/create', { body: { image: IMAGE, netns: { nsmode: 'none' }, ...body } });
  /** Starts the container, waits for its exit; its stdout and exit code. */
  const runToExit = async (id: string) => {
    const s = await svc.request('POST', `/v5.1.0/libpod/containers/${id}/start`);
    if (s.status !== 204) return { status: s.status, error: s.json(), out: '', code: -1 };
    const code = (await svc.request('POST', `/v5.1.0/libpod/containers/${id}/wait?condition=exited`)).json() as number;
    const logs = await svc.request('GET', `/v5.1.0/libpod/containers/${id}/logs?stdout=true&stderr=true`);
    return { status: s.status, out: textOf(demux(logs.body), 1) + textOf(demux(logs.body), 2), code };
  };
  const containerIds = async () => ((await svc.request('GET', '/v5.1.0/libpod/containers/json?all=true')).json() as Array<{ Id: string }>).map((c) => c.Id);

  before(async function () {
    svc = await startWithImage();
  });
  after(async function () {
    await shutdown(svc);
  });

  it('mounts a secret at /run/secrets/<name> and at targets, read-only, with the given owner and mode', async () => {
    const id = await secret('tls-key', 'PRIVATE KEY DATA');
    await secret('other', 'other data');
    const c = await createLibpod({
      command: ['sh', '-c', [
        'cat /run/secrets/tls-key; echo',
        'stat -c "%a %u %g" /run/secrets/tls-key /run/secrets/renamed /etc/abs-secret',
        'cat /run/secrets/renamed; echo; cat /etc/abs-secret; echo',
        '{ echo more >> /run/secrets/tls-key; } 2>/dev/null && echo writable || echo read-only',
        'ls /run/secrets | tr "\\n" " "',
      ].join('; ')],
      secrets: [
        { Source: 'tls-key', Target: '', UID: 0, GID: 0, Mode: 0o400 },
        { Source: 'other', Target: 'renamed', UID: 1000, GID: 1001, Mode: 0o440 },
        { Source: id.slice(0, 10), Target: '/etc/abs-secret', UID: 65534, GID: 65534, Mode: 0o444 },
      ],
    });
    expect(c.status, c.text).to.equal(201);
    const r = await runToExit(c.json().Id);
    expect(r.code, r.out).to.equal(0);
    expect(r.out.split('\n')).to.deep.equal([
      'PRIVATE KEY DATA',
      '400 0 0',
      '440 1000 1001',
      '444 65534 65534',
      'other data',
      'PRIVATE KEY DATA',
      'read-only',
      'renamed tls-key ',
    ]);

    const ins = await svc.request('GET', `/v5.1.0/libpod/containers/${c.json().Id}/json`);
    assertMatchesSchema('libpod', 'ContainerInspectLibpod', 200, ins.json());
    expect(ins.json().Config.Secrets).to.deep.equal([
      { Name: 'tls-key', ID: id, UID: 0, GID: 0, Mode: 0o400 },
      { Name: 'other', ID: ins.json().Config.Secrets[1].ID, UID: 1000, GID: 1001, Mode: 0o440 },
      { Name: 'tls-key', ID: id, UID: 65534, GID: 65534, Mode: 0o444 },
    ]);
    expect(ins.text).not.to.contain('PRIVATE KEY DATA');
    // Nothing was written into the image's layers or the container's own /run.
    const upper = join(svc.root, 'containers', c.json().Id, 'upper');
    expect(existsSync(join(upper, 'run', 'secrets', 'tls-key'))).to.equal(false);
    expect((await svc.request('DELETE', `/v5.1.0/libpod/containers/${c.json().Id}`)).status).to.equal(200);
  });

  it('sets an env secret from the secret at each start, over the spec\'s own variable', async () => {
    await secret('api-token', 'tok-1');
    const c = await createLibpod({ command: ['sh', '-c', 'echo "token=$TOKEN"'], env: { TOKEN: 'plain' }, secret_env: { TOKEN: 'api-token' } });
    expect(c.status, c.text).to.equal(201);
    const id = c.json().Id as string;
    expect((await runToExit(id)).out).to.equal('token=tok-1\n');
    const ins = (await svc.request('GET', `/v5.1.0/libpod/containers/${id}/json`)).json();
    expect(ins.Config.Env).to.include('TOKEN=plain');
    expect(JSON.stringify(ins)).not.to.contain('tok-1');
    // Replaced: the next start reads the new value (env secrets are looked up by name at start).
    expect((await svc.request('POST', '/v5.1.0/libpod/secrets/create?name=api-token&replace=true', { body: 'tok-2', headers: { 'Content-Type': 'text/plain' } })).status).to.equal(201);
    expect((await runToExit(id)).out).to.contain('token=tok-2\n');
    await svc.request('DELETE', `/v5.1.0/libpod/containers/${id}`);
    await svc.request('DELETE', '/v5.1.0/libpod/secrets/api-token');
  });

  it('refuses a container naming an unknown secret (404 no such secret) and leaves nothing', async () => {
    const before = await containerIds();
    const dirs = readdirSync(join(svc.root, 'containers')).sort();
    for (const body of [{ secrets: [{ Source: 'no-such', Target: '', UID: 0, GID: 0, Mode: 0o444 }] }, { secret_env: { X: 'no-such' } }]) {
      const c = await createLibpod({ name: 'with-missing-secret', command: ['true'], ...body });
      expect(c.status, c.text).to.equal(404);
      expect(c.json()).to.deep.include({ cause: 'no such secret', message: 'no secret with name or id "no-such": no such secret' });
    }
    expect(await containerIds()).to.deep.equal(before);
    expect(readdirSync(join(svc.root, 'containers')).sort()).to.deep.equal(dirs);
    const bad = await createLibpod({ command: ['true'], secrets: [{ Target: 'x' }] });
    expect(bad.status).to.equal(400);
    expect(await containerIds()).to.deep.equal(before);
  });

  it('lets a used secret be removed, as Podman: the mounted copy stays, an env secret fails the next start', async () => {
    await secret('short-lived', 'kept in the copy');
    const mounted = (await createLibpod({ command: ['cat', '/run/secrets/short-lived'], secrets: [{ Source: 'short-lived', Mode: 0o444 }] })).json().Id as string;
    const env = (await createLibpod({ command: ['sh', '-c', 'echo $S'], secret_env: { S: 'short-lived' } })).json().Id as string;
    expect((await svc.request('DELETE', '/v5.1.0/libpod/secrets/short-lived')).status).to.equal(204);
    const m = await runToExit(mounted);
    expect(m.out).to.equal('kept in the copy');
    const e = await runToExit(env);
    expect(e.status).to.equal(404);
    expect(e.error.message).to.contain('no such secret');
    for (const id of [mounted, env]) expect((await svc.request('DELETE', `/v5.1.0/libpod/containers/${id}?force=true`)).status).to.equal(200);
  });

  (havePodman ? describe : describe.skip)('podman --remote', () => {
    it('secret create, ls, inspect, rm as a user runs them', () => {
      const file = join(svc.dir, 'cli-secret.txt');
      writeFileSync(file, 'from a file');
      const id = ok(podman(svc, 'secret', 'create', '--label', 'team=ops', 'cli-secret', file)).trim();
      expect(id).to.match(/^[0-9a-f]{25}$/);
      const dup = podman(svc, 'secret', 'create', 'cli-secret', file);
      expect(dup.status).not.to.equal(0);
      expect(dup.stderr).to.contain('secret name in use');
      const ls = ok(podman(svc, 'secret', 'ls', '--format', '{{.ID}} {{.Name}} {{.Driver}}'));
      expect(ls.trim().split('\n')).to.include(`${id} cli-secret file`);
      expect(ok(podman(svc, 'secret', 'ls', '--filter', 'name=cli-', '--quiet')).trim()).to.equal(id);
      const ins = JSON.parse(ok(podman(svc, 'secret', 'inspect', 'cli-secret')));
      expect(ins).to.have.length(1);
      expect(ins[0]).to.deep.include({ ID: id });
      expect(ins[0].Spec).to.deep.include({ Name: 'cli-secret', Labels: { team: 'ops' } });
      expect(ins[0].Spec.Driver.Name).to.equal('file');
      expect(JSON.stringify(ins)).not.to.contain('from a file');
      const missing = podman(svc, 'secret', 'inspect', 'nope');
      expect(missing.status).not.to.equal(0);
      expect(missing.stderr).to.contain('no such secret');
      expect(ok(podman(svc, 'secret', 'rm', 'cli-secret')).trim()).to.equal(id);
      expect(ok(podman(svc, 'secret', 'ls', '--quiet'))).not.to.contain(id);
      const gone = podman(svc, 'secret', 'rm', 'cli-secret');
      expect(gone.status).not.to.equal(0);
      expect(gone.stderr).to.contain('no such secret');
    });

    it('podman run --secret mounts it and sets env secrets; secret rm --all', async () => {
      const file = join(svc.dir, 'run-secret.txt');
      writeFileSync(file, 'run-secret-value');
      ok(podman(svc, 'secret', 'create', 'run-secret', file));
      const out = ok(podman(svc, 'run', '--rm', '--network', 'none',
        '--secret', 'run-secret',
        '--secret', 'run-secret,type=mount,target=alt,uid=1234,gid=5678,mode=0400',
        '--secret', 'run-secret,type=env,target=MY_SECRET',
        IMAGE, 'sh', '-c', 'cat /run/secrets/run-secret; echo; stat -c "%a %u %g" /run/secrets/run-secret /run/secrets/alt; echo "env=$MY_SECRET"'));
      expect(out.split('\n')).to.deep.equal(['run-secret-value', '444 0 0', '400 1234 5678', 'env=run-secret-value', '']);
      const missing = podman(svc, 'run', '--rm', '--network', 'none', '--secret', 'not-there', IMAGE, 'true');
      expect(missing.status).not.to.equal(0);
      expect(missing.stderr).to.contain('no such secret');
      ok(podman(svc, 'secret', 'rm', '--all'));
      expect((await svc.request('GET', '/libpod/secrets/json')).json()).to.deep.equal([]);
      expect(ok(podman(svc, 'secret', 'ls', '--quiet')).trim()).to.equal('');
    });
  });
});
