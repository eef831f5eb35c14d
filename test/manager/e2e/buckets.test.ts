/**
 * End to end with buckets (v2) objects: a sandbox with two buckets-mdapi shards (even and odd
 * vnodes) beside Moray, a shark holding v1 and v2 objects evacuated through the manager, in
 * single and batched update modes. The user's overwrite (a new id) and delete during the job
 * end as typed errors in the main pass; convergence then moves the overwrite's new version and
 * leaves the deleted object gone; user headers and properties survive
 * byte for byte; an in-progress MPU part moves and its upload record follows; a committed
 * upload's part (files gone) is skipped as mpu_part_no_data.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { access } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import type { JobStatus } from '../../../src/api/manager.ts';
import { md5Base64, objectFilePath, objectNameHash } from '../../../src/manta/index.ts';
import type { BucketsTier } from '../../../src/sandbox/buckets-tier.ts';
import type { BucketsWriter } from '../../../src/sandbox/seed/buckets-writer.ts';
import { type BucketsSandbox, bucketsLookups, startBucketsSandbox } from './buckets-fixture.ts';
import { type E2ESandbox, TERMINAL_STATES } from './sandbox.ts';

const DOMAIN = 'buckets.test';
const ended = (s: JobStatus) => TERMINAL_STATES.includes(s.state);

for (const batched of [false, true]) {
  describe(`buckets objects end to end (${batched ? 'batched' : 'single'} updates)`, {
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
        `buckets-${batched ? 'batched' : 'single'}`,
        DOMAIN,
        { use_batched_updates: batched, max_tasks_per_assignment: 5 },
        'photos',
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
    async function put(
      name: string,
      opts: { headers?: Record<string, string | null>; properties?: unknown; files?: boolean } = {},
    ): Promise<{ id: string; content: Buffer }> {
      const id = randomUUID();
      const content = randomBytes(700);
      await writer.createObject(
        {
          owner,
          bucketId,
          name,
          id,
          content,
          contentType: 'application/octet-stream',
          copies: [shark(1), shark(2)],
          writeFiles: opts.files ?? true,
          headers: opts.headers ?? {},
          ...(opts.properties === undefined ? {} : { properties: opts.properties }),
        },
        randomUUID(),
      );
      return { id, content };
    }

    test('a shark with v1 and v2 objects is emptied; user changes win; MPU records follow', async () => {
      const v1 = await e2e.putObjects(
        Array.from({ length: 4 }, () => ({ sharks: [e2e.shark(1), e2e.shark(2)] })),
      );
      const headers = { 'm-color': 'grey', 'm-empty': '', 'm-null': null, 'x-json': '{"a":[1]}' };
      const properties = { tags: ['a', 'ü'], n: 1.5 };
      const plain = ['cat.jpg', 'dir/dog.jpg', 'a b/ü.txt', 'x1', 'x2', 'x3'];
      const objects = new Map<string, { id: string; content: Buffer }>();
      for (const name of plain) objects.set(name, await put(name, { headers, properties }));
      const uploadId = 'lx3k2a-00112233aabbccdd';
      const pre = [
        { datacenter: shark(1).datacenter, manta_storage_id: e2e.shark(1), zone: 'z1' },
        { datacenter: shark(2).datacenter, manta_storage_id: e2e.shark(2), zone: 'z2' },
      ];
      await writer.createObject(
        {
          owner,
          bucketId,
          name: `.mpu-uploads/${uploadId}`,
          id: randomUUID(),
          content: null,
          contentType: 'application/json',
          copies: [],
          writeFiles: false,
          headers: {
            'x-upload-record': JSON.stringify({
              uploadId,
              status: 'created',
              preAllocatedSharks: pre,
            }),
            'x-preallocated-sharks': JSON.stringify(pre),
          },
        },
        randomUUID(),
      );
      const part = `.mpu-parts/${uploadId}/1`;
      objects.set(part, await put(part));
      await put('.mpu-parts/lx3k2a-ffeeddccbbaa0099/1', { files: false });
      const overwritten = 'x1';
      const deleted = 'x2';

      // Slow copies, so the user acts after discovery and before the metadata update.
      await e2e.setMakoFaults({ latencyMs: 1500 });
      const id = await e2e.evacuate(1);
      const total = v1.length + plain.length + 2;
      await e2e.waitForJob(id, (s) => s.results.Total >= total || ended(s));
      await tier.at(keyOf(deleted).vnode).deleteObject(keyOf(deleted));
      // The user overwrites x1 as a PUT does: a new id, its files on two sharks, the key kept.
      await tier.at(keyOf(overwritten).vnode).deleteObject(keyOf(overwritten));
      const replaced = await put(overwritten, { headers: { 'm-user': 'new' } });
      await e2e.clearMakoFaults();
      const status = await e2e.waitForJob(id);

      assert.equal(status.state, 'Complete', JSON.stringify(status));
      // The first pass fails x1 (etag) and x2 (gone); convergence takes x1's new version.
      assert.equal(status.results.Complete, v1.length + plain.length - 2 + 1 + 1);
      assert.deepEqual(status.results.skip_breakdown, {
        mpu_part_no_data: 1,
        object_rewritten: 1,
      });
      assert.deepEqual(
        [status.results.tiers?.v1.Complete, status.results.tiers?.v1.Total],
        [v1.length, v1.length],
      );
      assert.deepEqual(
        [
          status.results.tiers?.v2.Complete,
          status.results.tiers?.v2.Error,
          status.results.tiers?.v2.Skipped,
        ],
        [plain.length - 2 + 1 + 1, 1, 2],
      );
      assert.deepEqual(status.results.error_breakdown, { mdapi: { object_not_found: 1 } });
      assert.deepEqual(
        status.convergence?.rounds.map(({ finished_at: _at, ...r }) => r),
        [
          {
            round: 1,
            retried: 1,
            rewritten: 1,
            new_versions: 1,
            became: { complete: 1, skipped: {}, error: {}, unfinished: 0 },
          },
        ],
      );
      // The user's versions are intact: the new x1 moved with its own headers, x2 stays gone.
      const user = await live(overwritten);
      assert.equal(user.id, replaced.id);
      assert.deepEqual(user.headers, { 'm-user': 'new' });
      assert.equal(user.content_md5, md5Base64(replaced.content));
      const userSharks = user.sharks.map((s) => s.manta_storage_id);
      assert.ok(!userSharks.includes(e2e.shark(1)), `x1 still on the shark: ${userSharks}`);
      await assert.rejects(live(deleted), { code: 'mdapi_object_not_found' });
      // Moved ones name no copy on the shark, keep headers and properties, and have the file.
      for (const [name, o] of objects) {
        if (name === overwritten || name === deleted) continue;
        const row = await live(name);
        assert.equal(row.id, o.id);
        const ids = row.sharks.map((s) => s.manta_storage_id);
        assert.ok(!ids.includes(e2e.shark(1)), `${name} still on the shark: ${ids}`);
        assert.equal(ids.length, 2);
        if (!name.startsWith('.mpu')) {
          assert.deepEqual(row.headers, headers);
          assert.deepEqual(row.properties, properties);
        }
        const dest = e2e.sandbox.sharks.find((s) => s.manta_storage_id === ids[0]);
        assert.ok(dest);
        await access(
          objectFilePath(dest.root, {
            owner,
            objectId: o.id,
            bucketId,
            objectNameHash: objectNameHash(name),
          }),
        );
        assert.equal(row.content_md5, md5Base64(o.content));
      }
      for (const key of v1) {
        const record = await e2e.getRecord(key);
        const ids = (record.sharks as { manta_storage_id: string }[]).map(
          (s) => s.manta_storage_id,
        );
        assert.ok(!ids.includes(e2e.shark(1)), `${key} still on the shark`);
      }
      // The upload record's pre-allocated sharks name the part's new copy, in both headers.
      const record = await live(`.mpu-uploads/${uploadId}`);
      const partDest = (await live(part)).sharks[0]?.manta_storage_id;
      const copy = JSON.parse(record.headers['x-preallocated-sharks'] ?? '[]') as typeof pre;
      const inRecord = JSON.parse(record.headers['x-upload-record'] ?? '{}') as {
        preAllocatedSharks: typeof pre;
      };
      for (const list of [copy, inRecord.preAllocatedSharks]) {
        assert.deepEqual(
          list.map((s) => s.manta_storage_id),
          [partDest, e2e.shark(2)],
        );
        assert.equal(list[0]?.zone, 'z1');
      }
    });
  });
}
