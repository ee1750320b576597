// Engine events -> the Docker events.Message shape (used by compat and libpod alike, as Podman).
import type { EngineEvent } from '../../engine/api.js';
import { Int64 } from '../../server/respond.js';

export function toEventMessage(e: EngineEvent) {
  const attributes: Record<string, string> = { ...e.attributes };
  if (e.name !== undefined) attributes.name ??= e.name;
  if (e.image !== undefined) attributes.image ??= e.image;
  return {
    // Deprecated fields that older clients still read.
    status: e.action,
    id: e.id,
    from: e.image ?? '',
    Type: e.type,
    Action: e.action,
    Actor: { ID: e.id, Attributes: attributes },
    scope: 'local',
    time: e.time,
    timeNano: new Int64(e.timeNano),
  };
}
