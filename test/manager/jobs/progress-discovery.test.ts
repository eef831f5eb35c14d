/**
 * Where the totals become exact: when the discovery stage's scan ends on its own, its last batch
 * says so, and the recording stage marks the job discovered (and records `discovery_complete`)
 * once that batch is written — once, and not when a cancel or a stop cut the scan short.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BoundedQueue } from '../../../src/async/index.ts';
import type { EvacuateContext, PlacedObject } from '../../../src/manager/jobs/evacuate/context.ts';
import { discover } from '../../../src/manager/jobs/evacuate/stages/discover.ts';
import { record } from '../../../src/manager/jobs/evacuate/stages/record.ts';
import type {
  ObjectSource,
  RecordBatch,
  SourceEvent,
} from '../../../src/manager/jobs/evacuate/types.ts';
import type { ManagerStore } from '../../../src/manager/store/index.ts';
import { useStore } from '../../support/store.ts';
import { harness, mantaObject, newJob } from './evacuate/helpers.ts';

const obj = (id: string): SourceEvent => ({ kind: 'object', object: mantaObject(id) });

/** A source replaying `events`; with `hang`, it then waits until its signal aborts. */
function scripted(events: SourceEvent[], hang = false): ObjectSource {
  return {
    excludes: () => false,
    async *scan({ signal }) {
      for (const e of events) yield e;
      if (!hang) return;
      // Aborted already (a loaded machine may stop the job before the source gets here): an
      // 'abort' listener added now would never fire.
      await new Promise((_, reject) => {
        if (signal.aborted) reject(signal.reason);
        else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      });
    },
  };
}

/** Discovery into recording, as the pipeline joins them; placement's queue is drained. */
async function discoverAndRecord(ctx: EvacuateContext): Promise<void> {
  const recordQ = new BoundedQueue<RecordBatch>(16);
  const placeQ = new BoundedQueue<PlacedObject>(16);
  const recording = record(ctx, recordQ, placeQ).finally(() => placeQ.close());
  const placing = (async () => {
    for await (const _ of placeQ);
  })();
  try {
    await discover(ctx, recordQ);
  } finally {
    recordQ.close();
    await Promise.all([recording, placing]);
  }
}

async function discoveryEvents(store: ManagerStore, jobId: string) {
  const events = await store.listJobEvents(jobId, 0, 100);
  return events.filter((e) => e.kind === 'discovery_complete').map((e) => e.detail);
}

describe('discovery end', () => {
  const fixture = useStore();

  test('a scan that ends marks the job discovered, once, with what it found', async () => {
    const { store } = fixture;
    const job = await newJob(store);
    const ctx = () =>
      harness({ store, job, source: scripted([obj('e1'), obj('e2'), obj('e3')]) }).ctx;
    // The scan alone marks nothing: its last batch says it ended, for recording to act on.
    const batches = new BoundedQueue<RecordBatch>(16);
    await discover(ctx(), batches);
    batches.close();
    const scanned: RecordBatch[] = [];
    for await (const b of batches) scanned.push(b);
    assert.deepEqual(scanned.at(-1)?.ended, { objects: 3 });
    assert.equal((await store.getJob(job.id))?.discoveredAt, undefined);
    const run = () => discoverAndRecord(ctx());
    await run();
    assert.ok((await store.getJob(job.id))?.discoveredAt instanceof Date);
    const unprocessed = (await store.counts(job.id)).find(
      (c) => c.bucket === 'status' && c.name === 'unprocessed',
    );
    assert.equal(unprocessed?.count, 3, 'every object found is recorded when the mark is set');
    assert.deepEqual(await discoveryEvents(store, job.id), [{ objects: 3 }]);
    // A run resumed after discovery ended says nothing again.
    await run();
    assert.deepEqual(await discoveryEvents(store, job.id), [{ objects: 3 }]);
  });

  test('a retry job is discovered when the previous job is re-read', async () => {
    const { store } = fixture;
    const prev = await newJob(store);
    await store.recordDiscovered(prev.id, [mantaObject('p1')]);
    const retry = await newJob(store, prev.id);
    const h = harness({ store, job: retry });
    await discoverAndRecord(h.ctx);
    assert.ok((await store.getJob(retry.id))?.discoveredAt instanceof Date);
    assert.equal((await discoveryEvents(store, retry.id)).length, 1);
  });

  test('a cancelled or stopped scan leaves the totals an estimate', async () => {
    const { store } = fixture;
    const cancelled = await newJob(store);
    // A source that, told to stop, just ends: the stage must still not take that as the end.
    let reached: (() => void) | undefined;
    const waiting = new Promise<void>((r) => {
      reached = r;
    });
    const endsQuietly: ObjectSource = {
      excludes: () => false,
      async *scan({ signal }) {
        yield obj('c1');
        reached?.();
        await new Promise((r) => {
          if (signal.aborted) r(undefined);
          else signal.addEventListener('abort', r, { once: true });
        });
      },
    };
    const h = harness({ store, job: cancelled, source: endsQuietly });
    const running = discoverAndRecord(h.ctx);
    await waiting;
    h.drain();
    await running;
    assert.equal((await store.getJob(cancelled.id))?.discoveredAt, undefined);

    const stopped = await newJob(store);
    const s = harness({ store, job: stopped, source: scripted([obj('s1')], true) });
    const stopping = discoverAndRecord(s.ctx);
    await new Promise((r) => setTimeout(r, 10));
    s.abort(new Error('the manager is stopping'));
    await assert.rejects(stopping, /the manager is stopping/);
    assert.equal((await store.getJob(stopped.id))?.discoveredAt, undefined);
    assert.deepEqual(await discoveryEvents(store, cancelled.id), []);
    assert.deepEqual(await discoveryEvents(store, stopped.id), []);
  });
});
