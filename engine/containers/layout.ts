// Where a container's files live.
//
//   <root>/containers/state.db            the state database (store.ts)
//   <root>/containers/<id>/upper|work     the overlay's writable layer and its work dir
//   <root>/containers/<id>/merged         the rootfs mount point
//   <root>/containers/<id>/empty          lower dir for images without layers
//   <root>/containers/<id>/userdata/      hosts, hostname, resolv.conf, ctr.log, exit (conmon's persist dir),
//                                         checkpoint/ (CRIU images) and dump.log, secrets/ (copies of the
//                                         mounted secrets) and run-secrets/ (the container's /run/secrets)
//   <runroot>/containers/<id>/            the OCI bundle: config.json plus conmon's attach, ctl, winsz, pidfile
//   <runroot>/exits/<id>                  conmon's exit files
//   <runroot>/exec/<session>/             exec session bundles (process.json, attach, exit/)
//   <runroot>/runc                        runc's state (--root)
import path from 'node:path';

export class Layout {
  constructor(
    readonly root: string,
    readonly runroot: string,
  ) {}

  get dbFile(): string {
    return path.join(this.root, 'containers', 'state.db');
  }
  get containersDir(): string {
    return path.join(this.root, 'containers');
  }
  get exitDir(): string {
    return path.join(this.runroot, 'exits');
  }
  get socketDir(): string {
    return path.join(this.runroot, 'socket');
  }
  get runcRoot(): string {
    return path.join(this.runroot, 'runc');
  }
  get execRoot(): string {
    return path.join(this.runroot, 'exec');
  }
  /** The running service's PID (the exit command skips the cleanup process while it is up). */
  get servicePidFile(): string {
    return path.join(this.runroot, 'containers', 'service.pid');
  }
  dir(id: string): string {
    return path.join(this.root, 'containers', id);
  }
  upper(id: string): string {
    return path.join(this.dir(id), 'upper');
  }
  work(id: string): string {
    return path.join(this.dir(id), 'work');
  }
  merged(id: string): string {
    return path.join(this.dir(id), 'merged');
  }
  emptyLower(id: string): string {
    return path.join(this.dir(id), 'empty');
  }
  userdata(id: string): string {
    return path.join(this.dir(id), 'userdata');
  }
  /** CRIU's images of the container's last checkpoint (`runc checkpoint --image-path`). */
  checkpointDir(id: string): string {
    return path.join(this.userdata(id), 'checkpoint');
  }
  logPath(id: string): string {
    return path.join(this.userdata(id), 'ctr.log');
  }
  hostsPath(id: string): string {
    return path.join(this.userdata(id), 'hosts');
  }
  hostnamePath(id: string): string {
    return path.join(this.userdata(id), 'hostname');
  }
  resolvConfPath(id: string): string {
    return path.join(this.userdata(id), 'resolv.conf');
  }
  /** Copies of the secrets mounted in the container, by secret name. */
  secretsDir(id: string): string {
    return path.join(this.userdata(id), 'secrets');
  }
  /** The empty directory mounted at /run/secrets, under the secret files. */
  secretsMountDir(id: string): string {
    return path.join(this.userdata(id), 'run-secrets');
  }
  bundle(id: string): string {
    return path.join(this.runroot, 'containers', id);
  }
  configPath(id: string): string {
    return path.join(this.bundle(id), 'config.json');
  }
  conmonPidFile(id: string): string {
    return path.join(this.bundle(id), 'conmon.pid');
  }
  pidFile(id: string): string {
    return path.join(this.bundle(id), 'pidfile');
  }
  execBundle(sessionId: string): string {
    return path.join(this.execRoot, sessionId);
  }
  execExitDir(sessionId: string): string {
    return path.join(this.execRoot, sessionId, 'exit');
  }
}
