// Events (compat /events and /libpod/events): the query becomes an engine EventQuery, the
// engine's events are converted to the Docker message shape and streamed as JSON lines.
import type { EventQuery } from '../engine/api.js';
import { parseEventTime } from '../engine/events/time.js';
import { streamJsonLines } from '../server/stream.js';
import { toEventMessage, type EventDialect } from './convert/events.js';
import { parseFilters } from './filters.js';
import type { ApiRequest } from './types.js';

export interface EventsParams {
  since?: string;
  until?: string;
  filters?: string;
  /** Libpod only: false = history only, then close. */
  stream?: boolean;
}

export async function streamEvents(req: ApiRequest, params: EventsParams, dialect: EventDialect): Promise<void> {
  const until = params.until ? parseEventTime(params.until) : undefined;
  const query: EventQuery = {
    // Docker replays history when only `until` is given.
    since: params.since ? parseEventTime(params.since) : until !== undefined ? 0n : undefined,
    until,
    filters: parseFilters(params.filters),
    follow: params.stream !== false,
  };
  const events = req.engine.eventsStream(query, req.signal);
  await streamJsonLines(req.ctx, mapEvents(events, dialect), req.signal);
}

async function* mapEvents(events: AsyncIterable<import('../engine/api.js').EngineEvent>, dialect: EventDialect) {
  for await (const event of events) yield toEventMessage(event, dialect);
}
