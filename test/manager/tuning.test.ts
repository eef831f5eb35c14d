/**
 * Runtime thread tuning of a REAL evacuate job (manager.md §2.5, §4.10): the API's PUT reaches
 * the running pipeline and its metadata semaphore, observed as the number of metadata updates
 * in flight at once. (test/manager/api.test.ts checks the route over a stand-in executor.)
 * The metadata tier holds every update until the test lets it go, so concurrency is exact.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { StorageNode } from '../../src/api/common.ts';
import { createLogger } from '../../src/log/index.ts';
import { evacuateExecutor } from '../../src/manager/jobs/evacuate/job.ts';
import {
  type AgentClient,
  DEFAULT_SETTINGS,
  type MetadataUpdate,
  type MetadataWriter,
  type ObjectSource,
  type RecordRef,
} from '../../src/manager/jobs/evacuate/types.ts';
import { ManagerMetrics } from '../../src/manager/metrics.ts';
import { type ManagerService, startManagerService } from '../../src/manager/service.ts';
import { StaticSharkDirectory } from '../../src/manager/sharks.ts';
import type { DiscoveredObject } from '../../src/manager/store/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

const log = createLogger({ name: 'tuning-test', level: 'silent' });
const EVAC: StorageNode = { manta_storage_id: '1.stor.tune.example', datacenter: 'dc1' };
const DEST: StorageNode = { manta_storage_id: '2.stor.tune.example', datacenter: 'dc1' };
const SOURCE: StorageNode = { manta_storage_id: '3.stor.tune.example', datacenter: 'dc2' };
const OBJECTS = 30;

const objects: DiscoveredObject[] = Array.from({ length: OBJECTS }, () => {
  const id = randomUUID();
  const key = `/acct/stor/${id}`;
  const object = {
    key,
    owner: 'acct',
    type: 'object' as const,
    objectId: id,
    contentLength: 1,
    contentMD5: 'bWQ1',
    sharks: [EVAC, SOURCE],
  };
  return { id, key, shard: 1, etag: `e-${id}`, object };
});

/** Holds each update until released; counts how many are in flight. */
class GatedMetadata implements MetadataWriter {
  inFlight = 0;
  peak = 0;
  done = 0;
  private readonly held: (() => void)[] = [];
  async putObject(_u: MetadataUpdate): Promise<void> {
    this.inFlight++;
    this.peak = Math.max(this.peak, this.inFlight);
    await new Promise<void>((resolve) => this.held.push(resolve));
    this.inFlight--;
    this.done++;
  }
  async putBatch(): Promise<MetadataUpdate[]> {
    throw new Error('not batched');
  }
  async getObject({ key }: RecordRef) {
    const o = objects.find((x) => x.key === key);
    return o && { value: o.object, etag: o.etag };
  }
  /** Lets the updates now held go; resets the peak to what stays in flight. */
  releaseHeld(): void {
    for (const r of this.held.splice(0)) r();
    this.peak = 0;
  }
}

const agents: AgentClient = {
  post: async () => ({ kind: 'accepted' }),
  get: async () => ({ kind: 'state', state: { Complete: null } }),
};
const source: ObjectSource = {
  excludes: () => false,
  async *scan() {
    for (const object of objects) yield { kind: 'object', object };
    yield { kind: 'checkpoint', checkpoint: { shard: 1, cursor: 'end', done: true } };
  },
};

let tdb: TestDatabase;
let service: ManagerService;
let base: string;
const metadata = new GatedMetadata();

before(async () => {
  tdb = await createTestDatabase();
  service = await startManagerService({
    db: tdb.db,
    executor: evacuateExecutor({
      source,
      agents,
      metadata,
      metrics: new ManagerMetrics({ service: 'test' }),
      chooser: () => ({
        choose: () => ({ outcome: 'placed', shark: DEST }),
        // Reservations are not what this test is about.
        restore: () => undefined,
        release: () => undefined,
        commit: () => undefined,
        releaseAll: () => undefined,
      }),
      // One assignment of every object: all of them wait on the metadata stage at once.
      settings: { ...DEFAULT_SETTINGS, maxTasksPerAssignment: OBJECTS, checkIntervalMs: 10 },
    }),
    sharks: new StaticSharkDirectory([EVAC, DEST, SOURCE], 'tune.example'),
    log,
    settings: () => ({
      snaplinkCleanupRequired: false,
      metadataThreads: 2,
      staticMetadataThreads: false,
    }),
  });
  base = await service.app.listen({ host: '127.0.0.1', port: 0 });
});
after(async () => {
  metadata.releaseHeld();
  await service.close();
  await tdb.drop();
});

async function until(what: string, cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
  // Anything more that could start has time to.
  await sleep(200);
}

async function setThreads(id: string, n: number): Promise<void> {
  const res = await fetch(`${base}/jobs/${id}`, {
    method: 'PUT',
    body: JSON.stringify({ action: 'set_metadata_threads', params: n }),
  });
  assert.equal(res.status, 200, await res.text());
}

test('PUT set_metadata_threads changes how many metadata updates a real job runs at once', async () => {
  const res = await fetch(`${base}/jobs`, {
    method: 'POST',
    body: JSON.stringify({ action: 'evacuate', params: { from_shark: EVAC.manta_storage_id } }),
  });
  const id = (await res.text()).trim();
  assert.equal(res.status, 200, id);

  await until('2 updates in flight', () => metadata.inFlight === 2);
  assert.equal(metadata.peak, 2, 'the job started with 2 metadata threads');

  await setThreads(id, 6);
  await until('6 updates in flight', () => metadata.inFlight === 6);
  assert.equal(metadata.peak, 6);

  // Lower: the 6 held finish, then no more than 1 runs at a time.
  await setThreads(id, 1);
  metadata.releaseHeld();
  await until('1 update in flight', () => metadata.inFlight === 1);
  assert.equal(metadata.peak, 1);
  while (metadata.done < OBJECTS) {
    metadata.releaseHeld();
    await sleep(20);
    assert.ok(metadata.inFlight <= 1, `in flight: ${metadata.inFlight}`);
  }
  await service.runner.whenDone(id);
  const status = (await (await fetch(`${base}/jobs/${id}`)).json()) as {
    state: string;
    metadata_threads: number;
  };
  assert.equal(status.state, 'Complete');
  assert.equal(status.metadata_threads, 1);
});
