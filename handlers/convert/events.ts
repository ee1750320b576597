// Engine events -> the Docker events.Message shape, which Podman answers on both APIs. A few
// actions are named differently on each, as Podman does: on compat an image removal is
// "delete" and a container exit is "die" with attribute exitCode; on Libpod they are "remove"
// and "died" with containerExitCode.
import type { EngineEvent } from '../../engine/api.js';
import { Int64 } from '../../server/respond.js';

export type EventDialect = 'compat' | 'libpod';

function dialectAction(e: EngineEvent, dialect: EventDialect, attributes: Record<string, string>): string {
  if (e.type === 'image' && (e.action === 'remove' || e.action === 'delete')) return dialect === 'compat' ? 'delete' : 'remove';
  if (e.type === 'container' && (e.action === 'die' || e.action === 'died')) {
    const code = attributes.exitCode ?? attributes.containerExitCode;
    if (code !== undefined) {
      attributes.exitCode = code;
      attributes.containerExitCode = code;
    }
    return dialect === 'compat' ? 'die' : 'died';
  }
  return e.action;
}

export function toEventMessage(e: EngineEvent, dialect: EventDialect) {
  const attributes: Record<string, string> = { ...e.attributes };
  if (e.name !== undefined) attributes.name ??= e.name;
  if (e.image !== undefined) attributes.image ??= e.image;
  const action = dialectAction(e, dialect, attributes);
  return {
    // Deprecated fields that older clients still read.
    status: action,
    id: e.id,
    from: e.image ?? '',
    Type: e.type,
    Action: action,
    Actor: { ID: e.id, Attributes: attributes },
    scope: 'local',
    time: e.time,
    timeNano: new Int64(e.timeNano),
  };
}
