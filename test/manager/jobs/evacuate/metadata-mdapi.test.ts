/**
 * The metadata port over buckets-mdapi (MdapiMetadataWriter) and the tier router, against two
 * stand-in shards (even and odd vnodes): the read-modify-write keeps the live headers,
 * properties and content type, a new id or a delete is a typed outcome, copies changed by
 * another writer are a conflict, a vnode on the wrong shard is a refusal (never success),
 * batches leave what they did not apply, and MPU upload records get both header copies
 * rewritten on the shard that hosts them.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { KeyedMutex } from '../../../../src/async/index.ts';
import { MdapiMetadataWriter } from '../../../../src/manager/jobs/evacuate/metadata-mdapi.ts';
import { TieredMetadataWriter } from '../../../../src/manager/jobs/evacuate/metadata-router.ts';
import { rewriteSharks } from '../../../../src/manager/jobs/evacuate/object.ts';
import {
  MetadataEtagMismatchError,
  MetadataObjectNotFoundError,
  MetadataRejectedError,
  type MetadataUpdate,
} from '../../../../src/manager/jobs/evacuate/types.ts';
import { bucketsObjectToValue, objectVnode } from '../../../../src/manta/buckets.ts';
import type { MantaObjectValue } from '../../../../src/manta/index.ts';
import { MdapiClient, type ObjectResponse } from '../../../../src/mdapi/index.ts';
import { type MdapiShard, startMdapiShard } from '../../../../src/sandbox/mdapi/index.ts';
import { backends, MD5, silent } from '../../../sandbox/mdapi/helpers.ts';

const VNODES = 4;
const EVAC = { datacenter: 'dc1', manta_storage_id: '1.stor.test' };
const KEEP = { datacenter: 'dc2', manta_storage_id: '2.stor.test' };
const DEST = { datacenter: 'dc2', manta_storage_id: '3.stor.test' };
const signal = new AbortController().signal;

for (const backend of backends()) {
  describe(`MdapiMetadataWriter against two stand-in shards on ${backend.label}`, () => {
    const owner = randomUUID();
    const bucket = randomUUID();
    const shards: { shard: MdapiShard; client: MdapiClient; drop(): Promise<void> }[] = [];
    let writer: MdapiMetadataWriter;

    before(async () => {
      for (const vnodes of [
        [0, 2],
        [1, 3],
      ]) {
        const { db, drop } = await backend.open();
        const shard = await startMdapiShard({ db, vnodes, log: silent });
        const client = new MdapiClient({
          host: shard.host,
          port: shard.port,
          connections: 1,
          initialBackoffMs: 1,
          maxBackoffMs: 5,
          log: silent,
        });
        shards.push({ shard, client, drop });
      }
      writer = new MdapiMetadataWriter({
        clients: new Map(shards.map((s, i) => [i + 1, s.client])),
        locks: new KeyedMutex(),
        vnodeCount: VNODES,
      });
    });
    after(async () => {
      for (const s of shards) {
        await s.client.close();
        await s.shard.close();
        await s.drop();
      }
    });

    /** Shard number (1: even vnodes, 2: odd) and client hosting `vnode`. */
    const at = (vnode: number) => ({ shard: (vnode % 2) + 1, client: shards[vnode % 2]!.client });

    async function create(
      name: string,
      extra: {
        headers?: Record<string, string | null>;
        properties?: unknown;
        sharks?: (typeof EVAC)[];
      } = {},
    ): Promise<{ row: ObjectResponse; value: MantaObjectValue; shard: number }> {
      const vnode = objectVnode(owner, bucket, name, VNODES);
      const { shard, client } = at(vnode);
      const row = await client.createObject({
        owner,
        bucket_id: bucket,
        name,
        id: randomUUID(),
        vnode,
        content_length: 5,
        content_md5: MD5,
        content_type: 'image/jpeg',
        headers: extra.headers ?? {},
        sharks: extra.sharks ?? [EVAC, KEEP],
        properties: extra.properties ?? null,
      });
      return { row, value: bucketsObjectToValue(row, vnode), shard };
    }

    const updateOf = (o: { value: MantaObjectValue; shard: number }): MetadataUpdate => ({
      shard: o.shard,
      key: o.value.key,
      etag: o.value.objectId,
      value: rewriteSharks(o.value, EVAC.manta_storage_id, DEST),
      previous: o.value,
    });
    const live = (o: { value: MantaObjectValue; shard: number }) =>
      at(o.value.vnode as number).client.getObject({
        owner,
        bucket_id: bucket,
        name: o.value.key,
        vnode: o.value.vnode as number,
      });

    test('the live headers, properties and content type are written back with the new copies', async () => {
      const o = await create('photos/cat.jpg', {
        headers: { 'm-color': 'grey', 'm-null': null },
        properties: { tags: ['a', 1] },
      });
      // The user changes the headers after discovery (same id): theirs are kept.
      const headers = { 'm-color': 'black', 'm-null': null, 'm-new': 'x' };
      await at(o.value.vnode as number).client.updateObject({
        ...o.row,
        vnode: o.value.vnode as number,
        headers,
      });
      await writer.putObject(updateOf(o), signal);
      const after = await live(o);
      assert.deepEqual(after.sharks, [DEST, KEEP]);
      assert.deepEqual(after.headers, headers);
      assert.deepEqual(after.properties, { tags: ['a', 1] });
      assert.equal(after.content_type, 'image/jpeg');
      assert.equal(after.id, o.row.id);
      const read = await writer.getObject(
        { tier: 'buckets', shard: o.shard, key: o.value.key, object: o.value },
        signal,
      );
      assert.ok(read && 'value' in read);
      assert.deepEqual(read.value.sharks, [DEST, KEEP]);
      assert.equal(read.etag, o.row.id);
    });

    test('a new id (user overwrite) is a mismatch, a delete is not-found; the user version stays', async () => {
      const over = await create('over.jpg');
      const key = { owner, bucket_id: bucket, name: 'over.jpg', vnode: over.value.vnode as number };
      const replaced = await shards[(over.value.vnode as number) % 2]!.shard.replaceObject(key);
      await assert.rejects(writer.putObject(updateOf(over), signal), MetadataEtagMismatchError);
      assert.deepEqual((await live(over)).sharks, [EVAC, KEEP]);
      assert.equal((await live(over)).id, replaced.id);
      const gone = await create('gone.jpg');
      await shards[(gone.value.vnode as number) % 2]!.shard.deleteObject({
        ...key,
        name: 'gone.jpg',
        vnode: gone.value.vnode as number,
      });
      await assert.rejects(writer.putObject(updateOf(gone), signal), MetadataObjectNotFoundError);
    });

    test('copies another writer changed since the read are a conflict, not overwritten', async () => {
      const o = await create('moved.jpg');
      const other = { datacenter: 'dc3', manta_storage_id: '4.stor.test' };
      await at(o.value.vnode as number).client.updateObject({
        ...o.row,
        vnode: o.value.vnode as number,
        sharks: [EVAC, other],
      });
      await assert.rejects(writer.putObject(updateOf(o), signal), MetadataEtagMismatchError);
      assert.deepEqual((await live(o)).sharks, [EVAC, other]);
    });

    test('a vnode on the wrong shard is refused with the cause, never taken as success', async () => {
      const o = await create('wrong.jpg');
      const wrong = { ...updateOf(o), shard: o.shard === 1 ? 2 : 1 };
      await assert.rejects(writer.putObject(wrong, signal), (err: unknown) => {
        assert.ok(err instanceof MetadataRejectedError);
        assert.match(err.message, /does not host the vnode/);
        return true;
      });
      assert.deepEqual((await live(o)).sharks, [EVAC, KEEP]);
    });

    test('a batch applies the unchanged records and leaves the changed ones', async () => {
      const objects = await Promise.all(['b1', 'b2', 'b3', 'b4'].map((n) => create(`batch/${n}`)));
      const byShard = new Map<number, typeof objects>();
      for (const o of objects) byShard.set(o.shard, [...(byShard.get(o.shard) ?? []), o]);
      const [shard, group] = [...byShard].sort((a, b) => b[1].length - a[1].length)[0]!;
      const changed = group[0]!;
      await shards[shard - 1]!.shard.replaceObject({
        owner,
        bucket_id: bucket,
        name: changed.value.key,
        vnode: changed.value.vnode as number,
      });
      const updates = group.map(updateOf);
      const left = await writer.putBatch(shard, updates, signal);
      assert.deepEqual(left, [updates[0]]);
      for (const o of group.slice(1)) assert.deepEqual((await live(o)).sharks, [DEST, KEEP]);
      assert.deepEqual((await live(changed)).sharks, [EVAC, KEEP]);
    });

    test('an upload record is found on its shard and both header copies are rewritten', async () => {
      const uploadId = 'lx3k2a-0123456789abcdef';
      const pre = [
        { ...EVAC, zone: 'z1', availableMB: 10 },
        { ...KEEP, zone: 'z2' },
      ];
      const record = JSON.stringify({ uploadId, key: 'big.bin', preAllocatedSharks: pre });
      await create(`.mpu-uploads/${uploadId}`, {
        sharks: [],
        headers: {
          'x-upload-record': record,
          'x-preallocated-sharks': JSON.stringify(pre),
          'x-upload-id': uploadId,
        },
      });
      const part = await create(`.mpu-parts/${uploadId}/1`);
      assert.equal(
        await writer.updateUploadRecord(part.value, EVAC.manta_storage_id, DEST, signal),
        'rewritten',
      );
      const name = `.mpu-uploads/${uploadId}`;
      const vnode = objectVnode(owner, bucket, name, VNODES);
      const row = await at(vnode).client.getObject({ owner, bucket_id: bucket, name, vnode });
      const moved = [
        { ...DEST, zone: 'z1', availableMB: 10 },
        { ...KEEP, zone: 'z2' },
      ];
      assert.deepEqual(JSON.parse(row.headers['x-preallocated-sharks'] ?? ''), moved);
      assert.deepEqual(JSON.parse(row.headers['x-upload-record'] ?? '').preAllocatedSharks, moved);
      assert.equal(row.headers['x-upload-id'], uploadId);
      assert.equal(
        await writer.updateUploadRecord(part.value, EVAC.manta_storage_id, DEST, signal),
        'unchanged',
      );
      const orphan = await create('.mpu-parts/nosuchupload-00/3');
      assert.equal(
        await writer.updateUploadRecord(orphan.value, EVAC.manta_storage_id, DEST, signal),
        'absent',
      );
      const off = new MdapiMetadataWriter({
        clients: new Map(),
        locks: new KeyedMutex(),
        vnodeCount: 0,
      });
      assert.equal(
        await off.updateUploadRecord(part.value, EVAC.manta_storage_id, DEST, signal),
        'disabled',
      );
    });

    test('the router sends v2 records to mdapi and refuses them when no mdapi shard is configured', async () => {
      const o = await create('routed.jpg');
      const moray = new TieredMetadataWriter({ buckets: writer });
      await moray.putObject(updateOf(o), signal);
      assert.deepEqual((await live(o)).sharks, [DEST, KEEP]);
      const none = new TieredMetadataWriter({});
      await assert.rejects(none.putObject(updateOf(o), signal), MetadataRejectedError);
    });
  });
}
