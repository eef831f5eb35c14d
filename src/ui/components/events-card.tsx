/**
 * A job's events log (created, paused, limits changed, stalled, …), oldest first. Each poll
 * asks only for the events after the last one it has, so a long job costs no more per poll.
 */
import { useRef } from 'preact/hooks';
import type { JobEventList } from '../../api/console.ts';
import { api } from '../api.ts';
import { time } from '../format.ts';
import { usePoll } from '../poll.ts';
import { eventDetail, eventWords } from '../reasons.ts';

/** What the page keeps: a job's events are few, this bounds a job that loops on something. */
const KEPT_EVENTS = 1000;

export function EventsCard({ uuid }: { uuid: string }) {
  const seen = useRef<JobEventList['events']>([]);
  const { data: events = [] } = usePoll(
    'events',
    async (signal) => {
      const after = seen.current.at(-1)?.seq ?? 0;
      const page = await api.events(uuid, after, signal);
      if (page.events.length > 0)
        seen.current = [...seen.current, ...page.events].slice(-KEPT_EVENTS);
      return seen.current;
    },
    [uuid],
  );
  return (
    <section class="card" aria-labelledby="events-heading">
      <h2 id="events-heading">Events</h2>
      {events.length === 0 ? <p>No events yet.</p> : null}
      <ol class="events" data-testid="events">
        {events.map((e) => {
          const detail = eventDetail(e.kind, e.detail);
          return (
            <li key={e.seq}>
              <time dateTime={e.at}>{time(e.at)}</time> <strong>{eventWords(e.kind)}</strong>
              {detail === '' ? null : <span class="sub"> — {detail}</span>}
            </li>
          );
        })}
      </ol>
    </section>
  );
}
