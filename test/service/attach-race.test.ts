// Attaching right after a start, when the process may already have exited (conmon and its
// attach socket gone, the exit not handled yet), attaches as Docker does instead of failing.
// docker-compose run (COMPOSE_INTERACTIVE_NO_CLI) does exactly this.
import { expect } from 'chai';
import { request } from 'node:http';
import { canRunContainers, createContainer, IMAGE, shutdown, startWithImage } from '../helpers/containers.js';
import type { TestService } from '../helpers/service.js';

function attach(svc: TestService, id: string): Promise<string> {
  return new Promise((resolve) => {
    const req = request({
      socketPath: svc.socketPath,
      method: 'POST',
      path: `/v1.40/containers/${id}/attach?stdin=1&stream=1&stdout=1&stderr=1`,
      headers: { Connection: 'Upgrade', Upgrade: 'tcp' },
    });
    req.on('upgrade', (_res, socket) => {
      socket.destroy();
      resolve('101');
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(`${res.statusCode} ${body}`));
    });
    req.on('error', (e) => resolve(`error ${e.message}`));
    req.end();
  });
}

describe('attach right after start', function () {
  this.timeout(120_000);
  let svc: TestService;
  before(async function () {
    if (!canRunContainers()) this.skip(); // containers need root, runc and conmon
    svc = await startWithImage();
  });
  after(() => shutdown(svc));

  it('attaches even when the container has already exited', async () => {
    const answers: string[] = [];
    for (let i = 0; i < 8; i++) {
      const id = await createContainer(svc, { Image: IMAGE, Cmd: ['echo', 'hi'] });
      expect((await svc.request('POST', `/v1.40/containers/${id}/start`)).status).to.equal(204);
      answers.push(await attach(svc, id));
    }
    expect(answers).to.deep.equal(Array(8).fill('101'));
  });
});
