// The real clients as a user runs them against a test service: the docker CLI (with its own
// config directory) and podman --remote.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { TestService } from './service.js';

export const DOCKER = '/usr/local/bin/docker';
export const haveDocker = existsSync(DOCKER);
export const havePodman = spawnSync('podman', ['--version']).status === 0;

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function docker(svc: TestService, ...args: string[]): Run {
  const r = spawnSync(DOCKER, args, { env: { ...process.env, DOCKER_HOST: `unix://${svc.socketPath}`, DOCKER_CONFIG: join(svc.dir, 'docker-config') }, encoding: 'utf8', timeout: 90_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function podman(svc: TestService, ...args: string[]): Run {
  const r = spawnSync('podman', ['--remote', '--url', `unix://${svc.socketPath}`, ...args], { encoding: 'utf8', timeout: 90_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The command's stdout, after asserting it exited 0 (its output is the failure message). */
export const ok = (r: Run): string => {
  expect(r.status, `${r.stdout}\n${r.stderr}`).to.equal(0);
  return r.stdout;
};
