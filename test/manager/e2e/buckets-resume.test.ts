/**
 * End to end with buckets (v2) objects when things break mid-job: the manager killed (-9)
 * while some of a job's v2 objects are updated and some not resumes it on the same database
 * and moves every object exactly once, headers and properties intact; and a v2 object whose
 * vnode left the shard it was discovered on after discovery ends as `mdapi_update_failed`
 * with the cause, never complete, its record untouched.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { JobStatus } from '../../../src/api/manager.ts';
import { md5Base64, objectFilePath, objectNameHash } from '../../../src/manta/index.ts';
import type { ObjectResponse } from '../../../src/mdapi/index.ts';
import type { BucketsTier } from '../../../src/sandbox/buckets-tier.ts';
import { bucketsShardVnodes } from '../../../src/sandbox/layout.ts';
import type { BucketsWriter } from '../../../src/sandbox/seed/buckets-writer.ts';
import {
  BUCKETS_SHARDS,
  type BucketsSandbox,
  bucketsLookups,
  startBucketsSandbox,
  VNODES,
} from './buckets-fixture.ts';
import { type E2ESandbox, TERMINAL_STATES } from './sandbox.ts';

const DOMAIN = 'buckets-resume.test';
const ended = (s: JobStatus) => TERMINAL_STATES.includes(s.state);

describe('buckets objects when the manager or the vnode map changes mid-job', {
  timeout: 290_000,
}, () => {
  let fixture: BucketsSandbox | undefined;
  let e2e: E2ESandbox;
  let tier: BucketsTier;
  let writer: BucketsWriter;
  let owner = '';
  let bucketId = '';

  before(async () => {
    fixture = await startBucketsSandbox(
      'buckets-resume',
      DOMAIN,
      { max_tasks_per_assignment: 2 },
      'resume',
    );
    ({ e2e, tier, writer, owner, bucketId } = fixture);
  });
  after(async () => {
    await fixture?.stop();
  });

  const { shark, keyOf, live } = bucketsLookups(() => {
    assert.ok(fixture);
    return fixture;
  });
  const sharksOf = (row: ObjectResponse) => row.sharks.map((s) => s.manta_storage_id);

  interface Put {
    id: string;
    content: Buffer;
  }
  async function put(name: string, copies: readonly number[], extra = {}): Promise<Put> {
    const id = randomUUID();
    const content = randomBytes(900);
    await writer.createObject(
      {
        owner,
        bucketId,
        name,
        id,
        content,
        contentType: 'application/octet-stream',
        copies: copies.map(shark),
        writeFiles: true,
        headers: {},
        ...extra,
      },
      randomUUID(),
    );
    return { id, content };
  }

  test('kill -9 of the manager mid-v2: the restarted manager resumes and moves each object once', async () => {
    const v1 = await e2e.putObjects(
      Array.from({ length: 6 }, () => ({ sharks: [e2e.shark(1), e2e.shark(2)] })),
    );
    const headers = { 'm-color': 'teal', 'm-empty': '', 'm-null': null, 'x-json': '{"b":[2]}' };
    const properties = { tags: ['x', 'é'], size: 2.25 };
    const v2 = new Map<string, Put>();
    for (let i = 0; i < 40; i++) {
      const name = `resume/${i}.bin`;
      v2.set(name, await put(name, [1, 2], { headers, properties }));
    }

    // Slow copies and two tasks an assignment: the objects complete in waves.
    await e2e.setMakoFaults({ latencyMs: 1500 });
    const id = await e2e.evacuate(1);
    const midway = await e2e.waitForJob(id, (s) => {
      const done = s.results.tiers?.v2.Complete ?? 0;
      return (done > 0 && done < v2.size) || ended(s);
    });
    assert.ok(!ended(midway), JSON.stringify(midway));
    await e2e.crash('manager');
    // With the manager gone the records are what it left: some v2 objects moved, some not.
    let moved = 0;
    for (const name of v2.keys()) {
      if (!sharksOf(await live(name)).includes(e2e.shark(1))) moved++;
    }
    assert.ok(moved > 0 && moved < v2.size, `${moved} of ${v2.size} moved before the crash`);
    await e2e.clearMakoFaults();
    await e2e.restartManager();
    const status = await e2e.waitForJob(id);

    assert.equal(status.state, 'Complete', JSON.stringify(status));
    assert.equal(status.results.Total, v1.length + v2.size, JSON.stringify(status.results));
    assert.equal(status.results.Duplicates, 0);
    assert.equal(status.results.error_breakdown, undefined);
    assert.equal(status.results.skip_breakdown, undefined);
    assert.deepEqual(
      [status.results.tiers?.v1.Complete, status.results.tiers?.v1.Total],
      [v1.length, v1.length],
    );
    assert.deepEqual(
      [status.results.tiers?.v2.Complete, status.results.tiers?.v2.Total],
      [v2.size, v2.size],
    );
    // Each v2 object: the same id, its one new copy (dc1's other shark) in the evacuated
    // shark's place, headers and properties as written, and that copy's bytes on disk.
    for (const [name, o] of v2) {
      const row = await live(name);
      assert.equal(row.id, o.id);
      assert.deepEqual(sharksOf(row), [e2e.shark(3), e2e.shark(2)], name);
      assert.deepEqual(row.headers, headers);
      assert.deepEqual(row.properties, properties);
      assert.equal(row.content_md5, md5Base64(o.content));
      const file = objectFilePath(shark(3).root, {
        owner,
        objectId: o.id,
        bucketId,
        objectNameHash: objectNameHash(name),
      });
      assert.equal(md5Base64(await readFile(file)), row.content_md5);
    }
    for (const key of v1) {
      const record = await e2e.getRecord(key);
      const ids = (record.sharks as { manta_storage_id: string }[]).map((s) => s.manta_storage_id);
      assert.deepEqual(ids, [e2e.shark(3), e2e.shark(2)], key);
    }
  });

  test('a vnode that left its shard after discovery: mdapi_update_failed with the cause', async () => {
    // Objects on sharks 4 and 2 (both dc2): their new copies go to dc1.
    const hosted = bucketsShardVnodes(1, BUCKETS_SHARDS, VNODES);
    const names = { moving: [] as string[], staying: [] as string[] };
    for (let i = 0; names.moving.length < 2 || names.staying.length < 2; i++) {
      const name = `vnodes/${i}.bin`;
      const list = hosted.includes(keyOf(name).vnode) ? names.moving : names.staying;
      if (list.length < 2) list.push(name);
    }
    for (const name of [...names.moving, ...names.staying]) await put(name, [4, 2]);
    const movedVnodes = new Set(names.moving.map((n) => keyOf(n).vnode));

    // Copies slow enough that the shard is back, without those vnodes, before any update.
    await e2e.setMakoFaults({ latencyMs: 10_000 });
    const id = await e2e.evacuate(4);
    const all = names.moving.length + names.staying.length;
    const found = await e2e.waitForJob(id, (s) => s.results.Total >= all || ended(s));
    assert.ok(!ended(found), JSON.stringify(found));
    // Let shard 1's listing end before its vnodes move.
    await sleep(500);
    const shard1 = tier.shards[0]?.shard.name;
    assert.ok(shard1);
    await e2e.crash(shard1);
    await e2e.restartBucketsShard(
      1,
      hosted.filter((v) => !movedVnodes.has(v)),
    );
    await e2e.clearMakoFaults();
    const status = await e2e.waitForJob(id);

    assert.equal(status.state, 'Complete', JSON.stringify(status));
    assert.deepEqual(
      [status.results.tiers?.v2.Complete, status.results.tiers?.v2.Error],
      [names.staying.length, names.moving.length],
      JSON.stringify(status.results),
    );
    assert.deepEqual(status.results.error_breakdown, {
      mdapi: { update_failed: names.moving.length },
    });
    // The cause, in the job's log: the shard it was found on no longer hosts its vnode.
    const causes = (await e2e.logLines('manager')).filter(
      (l) => l.includes(id) && l.includes('the shard does not host the vnode'),
    );
    for (const name of names.moving) {
      assert.ok(
        causes.some((l) => l.includes(name)),
        name,
      );
    }
    for (const name of names.staying) {
      assert.ok(!sharksOf(await live(name)).includes(e2e.shark(4)), name);
    }
    // The vnodes back where they were: the failed objects' records are untouched.
    await e2e.crash(shard1);
    await e2e.restartBucketsShard(1, hosted);
    for (const name of names.moving) {
      assert.deepEqual(sharksOf(await live(name)), [e2e.shark(4), e2e.shark(2)], name);
    }
  });
});
