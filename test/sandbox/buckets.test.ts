import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { objectVnode } from '../../src/manta/buckets.ts';
import { md5OfFile, objectFilePath, objectNameHash } from '../../src/manta/index.ts';
import { mpuPartUploadId, mpuUploadRecordId } from '../../src/manta/mpu.ts';
import { MdapiClient } from '../../src/mdapi/index.ts';
import type { SandboxDescription, SandboxShark } from '../../src/sandbox/description.ts';
import { type SandboxSeedReport, seedSandbox } from '../../src/sandbox/seed/run.ts';
import { startSandbox, stopSandbox } from '../../src/sandbox/up.ts';
import {
  type BucketsObjectState,
  type BucketsSnapshot,
  snapshotBucketsObjects,
  verifyBucketsSnapshot,
} from '../../src/sandbox/verify-buckets.ts';
import { testPostgresUrl } from '../support/database.ts';

const DOMAIN = 'buckets.test';
const EVACUATED = `1.stor.${DOMAIN}`;
const pgUrl = testPostgresUrl();

describe('a sandbox with buckets shards', () => {
  let dir: string;
  let sandbox: SandboxDescription;
  let report: SandboxSeedReport;
  let snapshot: BucketsSnapshot;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sandbox-buckets-'));
    sandbox = await startSandbox({
      dir,
      layout: {
        domain: DOMAIN,
        shards: 1,
        sharks: 4,
        datacenters: 2,
        sharkCapacityBytes: 1024 ** 3,
        bucketsShards: 2,
        bucketsVnodes: 8,
      },
      rebalancer: false,
      ...(pgUrl ? { databaseUrl: pgUrl } : {}),
    });
    report = await seedSandbox(sandbox, {
      objects: 10,
      minCopies: 1,
      maxCopies: 2,
      minSize: 16,
      maxSize: 4096,
      seed: 11,
      bucketsObjects: 300,
      mpuUploads: 2,
    });
    snapshot = await snapshotBucketsObjects(sandbox);
  });
  after(async () => {
    if (sandbox) await stopSandbox(dir);
    await rm(dir, { recursive: true, force: true });
  });

  const shark = (id: string): SandboxShark => {
    const found = sandbox.sharks.find((s) => s.manta_storage_id === id);
    assert.ok(found, `no shark ${id}`);
    return found;
  };
  const fileOf = (o: BucketsObjectState, id: string) =>
    objectFilePath(shark(id).root, {
      owner: o.owner,
      objectId: o.id,
      bucketId: o.bucket_id,
      objectNameHash: objectNameHash(o.name),
    });
  const kind = (o: BucketsObjectState) =>
    mpuUploadRecordId(o.name) !== undefined
      ? 'record'
      : mpuPartUploadId(o.name) !== undefined
        ? 'part'
        : 'object';

  test('sandbox.json lists the buckets shards, vnodes dealt round-robin', () => {
    assert.deepEqual(
      (sandbox.buckets_shards ?? []).map((s) => [s.name, s.vnodes]),
      [
        [`1.buckets-mdapi.${DOMAIN}`, [0, 2, 4, 6]],
        [`2.buckets-mdapi.${DOMAIN}`, [1, 3, 5, 7]],
      ],
    );
    for (const s of sandbox.buckets_shards ?? [])
      assert.equal(s.database_url !== undefined, pgUrl !== undefined);
  });

  test('the shards serve the discovery RPCs and refuse vnodes they do not host', async () => {
    const first = sandbox.buckets_shards?.[0];
    assert.ok(first);
    const client = new MdapiClient({ host: first.host, port: first.port, connections: 1 });
    try {
      assert.deepEqual([...(await client.listVnodes())].sort(), [0, 2, 4, 6]);
      await assert.rejects(client.listOwners(1));
    } finally {
      await client.close();
    }
  });

  test('seed: counts per kind and MPU state', () => {
    const b = report.buckets;
    assert.ok(b);
    assert.equal(b.objects, 300);
    assert.deepEqual(b.mpu, {
      in_progress: 2,
      committed: 2,
      initiated: 2,
      parts_with_data: 6,
      parts_gone: 6,
    });
    const counts = { object: 0, part: 0, record: 0 };
    for (const o of snapshot.values()) counts[kind(o)]++;
    // 300 objects + 2 committed uploads' final objects; parts of in-progress and committed;
    // records of in-progress and initiated uploads.
    assert.deepEqual(counts, { object: 302, part: 12, record: 4 });
    assert.ok(b.with_headers > 0 && b.with_properties > 0);
  });

  test('seed: rows at the placement vnode, files at the v2 path with the MD5', async () => {
    let files = 0;
    for (const o of snapshot.values()) {
      assert.equal(o.vnode, objectVnode(o.owner, o.bucket_id, o.name, 8), o.key);
      if (kind(o) !== 'object') continue;
      assert.ok(o.sharks.length >= 1 && o.sharks.length <= 2);
      for (const id of o.sharks) {
        const file = await md5OfFile(fileOf(o, id));
        assert.equal(file.contentMd5, o.content_md5);
        assert.equal(file.size, o.content_length);
        files++;
      }
    }
    assert.ok(files >= 302);
    const nulls = [...snapshot.values()].filter((o) => o.headers['m-unset'] === null);
    assert.ok(nulls.length > 0, 'some headers are null');
    assert.ok([...snapshot.values()].some((o) => o.properties !== null));
  });

  test('seed: MPU shapes: records without sharks, parts with or without files', async () => {
    const records = [...snapshot.values()].filter((o) => kind(o) === 'record');
    const open = new Set<string>();
    for (const r of records) {
      assert.deepEqual(r.sharks, []);
      assert.equal(r.content_length, 0);
      const record = JSON.parse(r.headers['x-upload-record'] ?? 'null');
      const preallocated = JSON.parse(r.headers['x-preallocated-sharks'] ?? 'null');
      assert.equal(record.uploadId, mpuUploadRecordId(r.name));
      assert.deepEqual(record.preAllocatedSharks, preallocated);
      assert.ok(preallocated.length >= 1 && preallocated[0].manta_storage_id);
      open.add(`${r.owner}/${r.bucket_id}/${record.uploadId}`);
    }
    let withData = 0;
    let gone = 0;
    for (const p of [...snapshot.values()].filter((o) => kind(o) === 'part')) {
      assert.ok(p.sharks.length >= 1);
      const inProgress = open.has(`${p.owner}/${p.bucket_id}/${mpuPartUploadId(p.name)}`);
      for (const id of p.sharks) {
        const exists = await stat(fileOf(p, id)).then(
          () => true,
          () => false,
        );
        assert.equal(exists, inProgress, `${p.key} on ${id}`);
      }
      if (inProgress) withData++;
      else gone++;
    }
    assert.deepEqual([withData, gone], [6, 6]);
  });

  test('verify: the untouched tier passes, committed parts counted as mpu_part_no_data', async () => {
    const onShark = new Set(
      [...snapshot.values()].filter((o) => o.sharks.includes(EVACUATED)).map((o) => o.key),
    );
    const result = await verifyBucketsSnapshot(sandbox, snapshot, {
      evacuated: EVACUATED,
      before: snapshot,
      skipped: onShark,
    });
    assert.deepEqual(result.problems, []);
    assert.equal(result.mpuPartNoData, 6);
    assert.equal(result.verified, snapshot.size - 6);
  });

  test('verify: a wrong file, a row naming the evacuated shark, changed headers are reported', async () => {
    const objects = [...snapshot.values()].filter((o) => kind(o) === 'object');
    const onShark = objects.find((o) => o.sharks.includes(EVACUATED));
    const corrupt = objects.find((o) => o !== onShark && o.sharks.length > 0);
    const relabeled = objects.find((o) => o !== onShark && o !== corrupt);
    assert.ok(onShark && corrupt && relabeled);
    const file = fileOf(corrupt, corrupt.sharks[0] as string);
    const original = await readFile(file);
    await writeFile(file, Buffer.concat([original, Buffer.from('x')]));
    const now: BucketsSnapshot = new Map(snapshot);
    now.set(relabeled.key, { ...relabeled, headers: { ...relabeled.headers, 'm-new': 'x' } });
    try {
      const result = await verifyBucketsSnapshot(sandbox, now, {
        evacuated: EVACUATED,
        before: snapshot,
      });
      assert.ok(result.stillOnEvacuated >= 1);
      assert.ok(result.problems.some((p) => p.startsWith(`${onShark.key}: still on`)));
      assert.ok(
        result.missingCopies.some((m) => m.key === corrupt.key && m.reason === 'md5 mismatch'),
      );
      assert.equal(result.metadataChanged, 1);
      assert.ok(result.problems.includes(`${relabeled.key}: headers changed`));
      await unlink(file);
      const again = await verifyBucketsSnapshot(sandbox, now, {
        evacuated: EVACUATED,
        before: snapshot,
      });
      assert.ok(
        again.missingCopies.some((m) => m.key === corrupt.key && m.reason === 'file missing'),
      );
    } finally {
      await writeFile(file, original);
    }
  });
});
