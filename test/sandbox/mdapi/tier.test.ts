/**
 * A buckets tier of two stand-in shards, even and odd vnodes, with rows placed by the real
 * placement rule: each object is served by the shard hosting its vnode, and the other shard
 * answers as a real shard without that schema does — even when both keep their schemas in
 * one database.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Database } from '../../../src/db/index.ts';
import { bucketVnode, objectVnode } from '../../../src/manta/buckets.ts';
import { MdapiClient, MdapiServerError } from '../../../src/mdapi/index.ts';
import {
  type MdapiShard,
  openMdapiDatabase,
  startMdapiShard,
} from '../../../src/sandbox/mdapi/index.ts';
import { newObject, silent } from './helpers.ts';

const VNODES = 4;

describe('two shards, even and odd vnodes, one database', () => {
  let db: Database;
  const shards: MdapiShard[] = [];
  const clients: MdapiClient[] = [];
  const owner = randomUUID();
  const hosting = (vnode: number) => clients[vnode % 2] as MdapiClient;
  const other = (vnode: number) => clients[(vnode + 1) % 2] as MdapiClient;

  before(async () => {
    db = await openMdapiDatabase();
    for (const parity of [0, 1]) {
      const vnodes = Array.from({ length: VNODES }, (_, v) => v).filter((v) => v % 2 === parity);
      const shard = await startMdapiShard({ db, vnodes, discoveryRpcs: true, log: silent });
      shards.push(shard);
      clients.push(new MdapiClient({ host: shard.host, port: shard.port, log: silent }));
    }
  });
  after(async () => {
    for (const c of clients) await c.close();
    for (const s of shards) await s.close();
    await db?.close();
  });

  test('each shard lists its own vnode set', async () => {
    assert.deepEqual(await clients[0]?.listVnodes(), [0, 2]);
    assert.deepEqual(await clients[1]?.listVnodes(), [1, 3]);
  });

  test('rows placed by the placement rule are served by their shard only', async () => {
    const bucketName = 'placed';
    const bv = bucketVnode(owner, bucketName, VNODES);
    const bucket = await hosting(bv).createBucket({ owner, name: bucketName, vnode: bv });
    const vnodes = new Set<number>();
    for (let i = 0; i < 12; i++) {
      const name = `obj-${i}`;
      const vnode = objectVnode(owner, bucket.id, name, VNODES);
      vnodes.add(vnode);
      const created = await hosting(vnode).createObject(
        newObject(owner, bucket.id, name, { vnode }),
      );
      const key = { owner, bucket_id: bucket.id, name, vnode };
      assert.equal((await hosting(vnode).getObject(key)).id, created.id);
      await assert.rejects(
        other(vnode).getObject(key),
        (err: unknown) => err instanceof MdapiServerError && err.missingVnodeSchema,
      );
    }
    assert.ok(vnodes.size > 1, 'the names spread over vnodes of both shards');
  });
});
