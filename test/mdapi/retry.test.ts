/**
 * What the client retries and what it does not, against the stand-in's fault knobs: an
 * overloaded server and transport failures (dropped connection, timeout, refused connect)
 * are retried with backoff up to max_retries; a precondition failure or a missing object
 * never is. And batchupdateobjects: chunks of max_batch_size, per-vnode failures typed,
 * a chunk that fails as a whole reported without losing what other chunks applied.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import {
  MdapiClient,
  type MdapiClientOptions,
  MdapiEtagMismatchError,
  MdapiOverloadedError,
  MdapiServerError,
  MdapiTransientError,
  type ObjectResponse,
  type UpdateObjectPayload,
} from '../../src/mdapi/index.ts';
import {
  backends,
  newObject,
  type StartedShard,
  silent,
  startShard,
} from '../sandbox/mdapi/helpers.ts';
import { recordingLogger } from '../support/log.ts';

const backend = backends()[0];

describe('MdapiClient retries', () => {
  let s: StartedShard;
  const owner = randomUUID();
  let bucketId: string;
  const clients: MdapiClient[] = [];
  const client = (opts: Partial<MdapiClientOptions> = {}) => {
    const { log, records } = recordingLogger('mdapi-test');
    const c = new MdapiClient({
      host: '127.0.0.1',
      port: s.shard.port,
      connections: 2,
      initialBackoffMs: 1,
      maxBackoffMs: 5,
      reconnect: { minDelayMs: 1, maxDelayMs: 5 },
      log,
      ...opts,
    });
    clients.push(c);
    const retries = () => records.filter((r) => r.msg === 'mdapi request failed: retrying').length;
    return { c, retries };
  };
  const objects: ObjectResponse[] = [];
  const key = (name: string, vnode = 0) => ({ owner, bucket_id: bucketId, name, vnode });
  const update = (o: ObjectResponse, extra: Partial<UpdateObjectPayload> = {}) => ({
    owner,
    bucket_id: bucketId,
    name: o.name,
    id: o.id,
    vnode: 0,
    content_type: 'updated',
    headers: o.headers,
    conditions: { 'if-match': [o.id] },
    ...extra,
  });

  before(async () => {
    assert.ok(backend);
    s = await startShard(backend, { vnodes: [0, 2] });
    bucketId = (await s.client.createBucket({ owner, name: 'b', vnode: 0 })).id;
    for (const name of ['o1', 'o2', 'o3', 'o4', 'o5']) {
      objects.push(await s.client.createObject(newObject(owner, bucketId, name)));
    }
  });
  beforeEach(() => {
    s.shard.faults.set({});
  });
  after(async () => {
    for (const c of clients) await c.close();
    await s?.close();
  });
  const o = (i: number) => objects[i] as ObjectResponse;

  test('an overloaded server is retried until it serves', async () => {
    const { c, retries } = client({ maxRetries: 3 });
    s.shard.faults.set({ overloaded: { count: 2 } });
    assert.equal((await c.getObject(key('o1'))).id, o(0).id);
    assert.equal(retries(), 2);
  });

  test('retries are bounded by max_retries; the last error is thrown with its attempts', async () => {
    const { c } = client({ maxRetries: 2 });
    s.shard.faults.set({ overloaded: { count: 10 } });
    await assert.rejects(c.getObject(key('o1')), (err: unknown) => {
      assert.ok(err instanceof MdapiOverloadedError);
      assert.deepEqual([err.code, err.attempts], ['mdapi_overloaded', 3]);
      return true;
    });
    const none = client({ maxRetries: 0 });
    await assert.rejects(none.c.getObject(key('o1')), { attempts: 1 });
  });

  test('a dropped connection is a transient failure, retried on a new connection', async () => {
    const { c, retries } = client();
    await c.connect();
    s.shard.faults.set({ drop: { count: 1 } });
    assert.equal((await c.updateObject(update(o(1)))).content_type, 'updated');
    assert.equal(retries(), 1);
  });

  test('a reply slower than operation_timeout_ms times out, is retried, then fails typed', async () => {
    const { c, retries } = client({ operationTimeoutMs: 50, maxRetries: 1 });
    s.shard.faults.set({ slowMs: 300 });
    await assert.rejects(c.getObject(key('o1')), (err: unknown) => {
      assert.ok(err instanceof MdapiTransientError);
      assert.deepEqual([err.code, err.attempts], ['mdapi_transient', 2]);
      return true;
    });
    assert.equal(retries(), 1);
  });

  test('a refused connection is transient too', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as { port: number };
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const c = new MdapiClient({
      host: '127.0.0.1',
      port,
      maxRetries: 1,
      initialBackoffMs: 1,
      reconnect: { minDelayMs: 1, maxDelayMs: 2 },
      log: silent,
    });
    clients.push(c);
    await assert.rejects(c.getObject(key('o1')), { code: 'mdapi_transient', attempts: 2 });
  });

  test('a precondition failure or a missing object is never retried', async () => {
    const { c, retries } = client({ maxRetries: 3 });
    await assert.rejects(
      c.updateObject(update(o(2), { conditions: { 'if-match': [randomUUID()] } })),
      (err: unknown) => err instanceof MdapiEtagMismatchError && err.attempts === 1,
    );
    await assert.rejects(c.getObject(key('absent')), {
      code: 'mdapi_object_not_found',
      attempts: 1,
    });
    assert.equal(retries(), 0);
  });

  test('batches are chunked: a failure rolls back only its vnode within its chunk', async () => {
    const { c } = client({ maxBatchSize: 2 });
    const stale = randomUUID();
    const batch = [
      update(o(0), { content_type: 'chunked' }),
      update(o(1), { content_type: 'chunked' }),
      update(o(2), { content_type: 'chunked' }),
      update(o(3), { content_type: 'chunked', conditions: { 'if-match': [stale] } }),
      update(o(4), { content_type: 'chunked', vnode: 1 }),
    ];
    const { failed } = await c.batchUpdateObjects(batch);
    assert.deepEqual(
      failed.map((f) => [f.vnode, f.objects.map((x) => x.name), f.error.constructor.name]),
      [
        [0, ['o3', 'o4'], 'MdapiEtagMismatchError'],
        [1, ['o5'], 'MdapiServerError'],
      ],
    );
    const unhosted = failed[1]?.error;
    assert.ok(unhosted instanceof MdapiServerError);
    assert.equal(unhosted.missingVnodeSchema, true);
    const types = await Promise.all(objects.map((x) => c.getObject(key(x.name))));
    assert.deepEqual(
      types.map((x) => x.content_type),
      ['chunked', 'chunked', 'text/plain', 'text/plain', 'text/plain'],
      'the first chunk applied; the second rolled back vnode 0; o5 names an unhosted vnode',
    );
  });

  test('a chunk that fails as a whole is reported per vnode; other chunks are kept', async () => {
    const { c } = client({ maxBatchSize: 2, maxRetries: 1 });
    s.shard.faults.set({ overloaded: { count: 2 }, methods: ['batchupdateobjects'] });
    const batch = [0, 1, 2].map((i) => update(o(i), { content_type: `whole-${i}` }));
    const { failed } = await c.batchUpdateObjects(batch);
    assert.deepEqual(
      failed.map((f) => [f.vnode, f.objects.map((x) => x.name), f.error.code, f.error.attempts]),
      [[0, ['o1', 'o2'], 'mdapi_overloaded', 2]],
    );
    assert.equal((await c.getObject(key('o3'))).content_type, 'whole-2');
    assert.equal((await c.getObject(key('o1'))).content_type, 'chunked');
  });
});
