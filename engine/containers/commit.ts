// Commit: a new image from a container, as moby's daemon/commit.go and libpod's
// container_commit.go do it. Bad input (changes, name) is refused before anything happens; a
// running container is paused (runc pause) for the time its upper directory is read, unless
// the caller says not to, and resumed after, also when the commit fails. The changes become
// one new layer on top of the image's (engine/storage/layer-diff.ts), minus the mount points
// the runtime created (the ones `containerChanges` leaves out too).
import { EngineError } from '../errors.js';
import { applyChanges } from '../images/changes.js';
import type { ImageCommitter, ImageRuntimeConfig } from '../images/types.js';
import { overlayDiffTar } from '../storage/layer-diff.js';
import type { ContainerCommitOptions } from './api.js';
import { runtimeOnlyEntries } from './changes.js';
import type { ContainerManager } from './manager.js';
import type { ContainerRecord } from './types.js';

/** The image configuration the container runs with (its own settings over the image's). */
export function containerImageConfig(rec: ContainerRecord): ImageRuntimeConfig {
  const s = rec.spec;
  return {
    Entrypoint: s.entrypoint.length ? [...s.entrypoint] : null,
    Cmd: s.cmd.length ? [...s.cmd] : null,
    Env: [...s.env],
    WorkingDir: s.workingDir === '/' ? '' : s.workingDir,
    User: s.user,
    Labels: { ...s.labels },
    ExposedPorts: { ...s.exposedPorts },
    Volumes: { ...s.volumes },
    ...(s.stopSignalName && s.stopSignalName !== 'SIGTERM' ? { StopSignal: s.stopSignalName } : {}),
  };
}

export async function commitContainer(m: ContainerManager, images: ImageCommitter, ref: string, o: ContainerCommitOptions): Promise<{ id: string }> {
  const { id } = m.lookup(ref);
  const changes = o.changes ?? [];
  applyChanges({}, changes); // bad changes: invalid-argument, before anything is done
  // As Podman's libpod handler: the OCI format has no place for a commit message.
  if (o.format === 'oci' && o.message) throw new EngineError('invalid-argument', 'messages are only compatible with the docker image format (-f docker)');
  const name = o.reference ? images.newName(o.reference, o.nameStyle ?? 'podman') : undefined;
  const res = await m.locked(id, async () => {
    const rec = m.mustGet(id);
    if (!rec.spec.imageId) throw new EngineError('invalid-argument', 'cannot commit a container that uses an exploded rootfs');
    const pause = o.pause !== false && rec.state.status === 'running';
    if (pause) {
      try {
        await m.runc.pause(id);
      } catch (e) {
        throw new EngineError('internal', `pausing container ${id} to commit: ${(e as Error).message}`, e);
      }
    }
    try {
      const upper = m.layout.upper(id);
      const skip = await runtimeOnlyEntries(upper, rec.spec.lowerDirs);
      const out = await images.commit({
        parentId: rec.spec.imageId,
        layer: overlayDiffTar(upper, { skip }),
        config: containerImageConfig(rec),
        changes,
        author: o.author,
        comment: o.message,
        createdBy: rec.spec.cmd.join(' '),
        containerId: id,
        name,
        format: o.format ?? 'docker',
      });
      return { rec, id: out.id };
    } finally {
      if (pause) await m.runc.resume(id).catch((e: unknown) => m.warn(`resuming container ${id} after commit: ${(e as Error).message}`));
    }
  });
  await m.emit('commit', res.rec, { imageID: `sha256:${res.id}`, ...(name ? { imageRef: name } : {}), ...(o.message ? { comment: o.message } : {}) });
  return { id: res.id };
}
