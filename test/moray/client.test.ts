import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { encodeFrameJson, FastStatus, RpcError } from '../../src/fast/index.ts';
import {
  and,
  BucketNotFoundError,
  EtagConflictError,
  eq,
  ge,
  MorayClient,
  MorayConnectionError,
  MorayError,
  MorayProtocolError,
  ObjectNotFoundError,
} from '../../src/moray/index.ts';
import { frame, type RawPeer, rawServer } from '../fast/helpers.ts';
import {
  type Call,
  fakeShard,
  log,
  mantaBucketRow,
  mantaRecord,
  mantaValue,
  UUID_V4,
} from './fixtures.ts';

function objectOptionsOf(call: Call | undefined, index: number): Record<string, unknown> {
  assert.ok(call);
  const opts = call.args[index] as Record<string, unknown>;
  assert.match(opts.req_id as string, UUID_V4);
  return opts;
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof Error);
    return err;
  }
  assert.fail('expected a rejection');
}

describe('MorayClient RPCs against a fake shard', () => {
  let shard: Awaited<ReturnType<typeof fakeShard>>;
  let moray: MorayClient;
  const last = (): Call | undefined => shard.calls.at(-1);

  before(async () => {
    shard = await fakeShard({
      getObject: async (rpc) => {
        const [bucket, key] = rpc.args as [string, string];
        if (key === '/missing') {
          throw new RpcError('ObjectNotFoundError', `${bucket}::${key} does not exist`);
        }
        if (key === '/broken') {
          const { _etag: _, ...broken } = mantaRecord(null);
          await rpc.write(broken);
          return;
        }
        await rpc.write(mantaRecord(null));
      },
      putObject: async (rpc) => {
        const opts = rpc.args[3] as { etag?: string | null };
        if (opts.etag === 'AAAAAAAA') {
          throw new RpcError(
            'EtagConflictError',
            'manta::/acct/stor/o was expected to have etag "AAAAAAAA", but was "7712D647"',
            {
              context: {
                bucket: 'manta',
                key: '/acct/stor/o',
                expected: 'AAAAAAAA',
                actual: '7712D647',
              },
            },
          );
        }
        await rpc.write({ etag: '7712D647' });
      },
      delObject: async (rpc) => rpc.write({}),
      findObjects: async (rpc) => {
        const opts = rpc.args[2] as { internalOpts?: unknown; no_count?: boolean };
        if (opts.internalOpts) await rpc.write({ _handledOptions: ['req_id', 'limit'] });
        for (let i = 0; i < 3; i++) {
          await rpc.write({ ...mantaRecord(opts.no_count ? undefined : 3), _id: i });
        }
      },
      batch: async (rpc) => {
        await rpc.write({
          etags: [
            { bucket: 'manta', etag: '7712D647', key: '/k' },
            { bucket: 'manta', key: '/d' },
          ],
        });
      },
      updateObjects: async (rpc) => rpc.write({ count: 2, etag: 'u1234567' }),
      getBucket: async (rpc) => {
        const bucket = rpc.args[1];
        if (bucket !== 'manta')
          throw new RpcError('BucketNotFoundError', `${bucket} does not exist`);
        await rpc.write(mantaBucketRow);
      },
      listBuckets: async (rpc) => {
        await rpc.write(mantaBucketRow);
        await rpc.write({ ...mantaBucketRow, name: 'manta_storage', post: '[]' });
      },
      // Moray answers createBucket with END only.
      createBucket: async () => undefined,
      sql: async (rpc) => {
        const statement = rpc.args[0] as string;
        if (statement.includes('_idx')) {
          throw new RpcError('error', 'column "_idx" does not exist');
        }
        await rpc.write({
          _id: '114590',
          _key: mantaValue.key,
          _value: JSON.stringify(mantaValue),
        });
        await rpc.write({ max: '123' });
      },
      // A summary RPC that (wrongly) sends no summary.
      broken: async () => undefined,
    });
    moray = new MorayClient({ host: '127.0.0.1', port: shard.port, log });
  });

  after(async () => {
    await moray.close();
    await shard.server.close();
  });

  test('getObject sends [bucket, key, options] and returns the typed record', async () => {
    const record = await moray.getObject('manta', mantaValue.key);
    assert.deepEqual(record, mantaRecord(null));
    const call = last();
    assert.equal(call?.method, 'getObject');
    assert.deepEqual(call?.args.slice(0, 2), ['manta', mantaValue.key]);
    const opts = objectOptionsOf(call, 2);
    assert.deepEqual(Object.keys(opts), ['req_id', 'headers', 'no_count', 'sql_only', 'noCache']);
    assert.deepEqual(opts, {
      req_id: opts.req_id,
      headers: {},
      no_count: false,
      sql_only: false,
      noCache: true,
    });
  });

  test('getObject: ObjectNotFoundError; a record without _etag is a MorayProtocolError', async () => {
    const err = await rejection(moray.getObject('manta', '/missing'));
    assert.ok(err instanceof ObjectNotFoundError);
    assert.equal(err.name, 'ObjectNotFoundError');
    assert.equal(err.message, 'manta::/missing does not exist');
    assert.equal(err.method, 'getObject');
    assert.equal(err.shard, `127.0.0.1:${shard.port}`);
    const bad = await rejection(moray.getObject('manta', '/broken'));
    assert.ok(bad instanceof MorayProtocolError);
    assert.equal(bad.field, '_etag');
  });

  test('putObject options: etag string / null / absent, then _value', async () => {
    assert.deepEqual(await moray.putObject('manta', '/k', mantaValue, { etag: '7712D647' }), {
      etag: '7712D647',
    });
    let call = last();
    assert.equal(call?.method, 'putObject');
    assert.deepEqual(call?.args.slice(0, 3), ['manta', '/k', mantaValue]);
    let opts = objectOptionsOf(call, 3);
    assert.deepEqual(Object.keys(opts), [
      'req_id',
      'etag',
      'headers',
      'no_count',
      'sql_only',
      'noCache',
      '_value',
    ]);
    assert.equal(opts.etag, '7712D647');
    assert.equal(opts._value, JSON.stringify(mantaValue));
    assert.deepEqual(opts.headers, {});

    await moray.putObject('manta', '/k', mantaValue, { etag: null });
    opts = objectOptionsOf(last(), 3);
    assert.ok('etag' in opts);
    assert.equal(opts.etag, null);

    await moray.putObject('manta', '/k', mantaValue);
    call = last();
    opts = objectOptionsOf(call, 3);
    assert.ok(!('etag' in opts));
  });

  test('putObject: EtagConflictError carries bucket, key, expected, actual', async () => {
    const err = await rejection(
      moray.putObject('manta', '/acct/stor/o', mantaValue, { etag: 'AAAAAAAA' }),
    );
    assert.ok(err instanceof EtagConflictError);
    assert.equal(err.bucket, 'manta');
    assert.equal(err.key, '/acct/stor/o');
    assert.equal(err.expected, 'AAAAAAAA');
    assert.equal(err.actual, '7712D647');
    assert.equal(err.method, 'putObject');
    assert.match(err.message, /was expected to have etag "AAAAAAAA", but was "7712D647"/);
  });

  test('delObject sends [bucket, key, options] with the etag', async () => {
    await moray.delObject('manta', '/k', { etag: 'ABCDEF01' });
    const call = last();
    assert.equal(call?.method, 'delObject');
    assert.deepEqual(call?.args.slice(0, 2), ['manta', '/k']);
    assert.equal(objectOptionsOf(call, 2).etag, 'ABCDEF01');
  });

  test('findObjects streams typed records and sends filter and paging options', async () => {
    const filter = and(eq('type', 'object'), ge('_id', 10));
    const records = [];
    for await (const r of moray.findObjects('manta', filter, {
      limit: 1000,
      sort: { attribute: '_id', order: 'ASC' },
      no_count: true,
    })) {
      records.push(r);
    }
    assert.deepEqual(
      records.map((r) => r._id),
      [0, 1, 2],
    );
    assert.ok(records.every((r) => !('_count' in r)));
    const call = last();
    assert.equal(call?.method, 'findObjects');
    assert.deepEqual(call?.args.slice(0, 2), ['manta', '(&(type=object)(_id>=10))']);
    const opts = objectOptionsOf(call, 2);
    assert.equal(opts.limit, 1000);
    assert.deepEqual(opts.sort, { attribute: '_id', order: 'ASC' });
    assert.equal(opts.no_count, true);
    assert.equal(opts.requireIndexes, false);
    assert.equal(opts.requireOnlineReindexing, false);
    assert.ok(!('internalOpts' in opts));

    const withCount = [];
    for await (const r of moray.findObjects('manta', '(type=object)', { requireIndexes: true })) {
      withCount.push(r);
    }
    assert.equal(withCount.length, 3, 'the _handledOptions record is skipped');
    assert.ok(withCount.every((r) => r._count === 3));
    assert.deepEqual(objectOptionsOf(last(), 2).internalOpts, { sendHandledOptions: true });
  });

  test('batch sends [requests, options] with per-operation options', async () => {
    const result = await moray.batch([
      { bucket: 'manta', key: '/k', value: mantaValue, options: { etag: '7712D647' } },
      { operation: 'delete', bucket: 'manta', key: '/d' },
    ]);
    assert.deepEqual(result.etags[0], { bucket: 'manta', etag: '7712D647', key: '/k' });
    const call = last();
    assert.equal(call?.method, 'batch');
    assert.ok(call);
    const [ops] = call.args as [Record<string, unknown>[]];
    assert.equal(ops[0]?.operation, 'put');
    assert.deepEqual(Object.keys(ops[0] ?? {}), ['operation', 'bucket', 'options', 'key', 'value']);
    const putOpts = ops[0]?.options as Record<string, unknown>;
    assert.equal(putOpts.etag, '7712D647');
    assert.match(putOpts.req_id as string, UUID_V4);
    assert.deepEqual(ops[1], {
      operation: 'delete',
      bucket: 'manta',
      key: '/d',
      options: ops[1]?.options,
    });
    assert.match(objectOptionsOf(call, 1).req_id as string, UUID_V4);
  });

  test('updateObjects sends [bucket, fields, filter, options]', async () => {
    assert.deepEqual(await moray.updateObjects('manta', { type: 'x' }, eq('owner', 'a*b')), {
      count: 2,
      etag: 'u1234567',
    });
    const call = last();
    assert.deepEqual(call?.args.slice(0, 3), ['manta', { type: 'x' }, '(owner=a\\2ab)']);
  });

  test('getBucket sends [options, bucket] and parses the JSON-string members', async () => {
    const config = await moray.getBucket('manta');
    const call = last();
    assert.equal(call?.method, 'getBucket');
    assert.equal(call?.args[1], 'manta');
    assert.deepEqual(Object.keys(objectOptionsOf(call, 0)), ['req_id']);
    assert.deepEqual(config, {
      name: 'manta',
      index: {
        dirname: { type: 'string' },
        name: { type: 'string' },
        owner: { type: 'string' },
        objectId: { type: 'string' },
        type: { type: 'string' },
      },
      pre: [],
      post: ['function recordDeleteLog(req, cb) { ... }'],
      options: { version: 2 },
      mtime: new Date('2019-10-09T08:00:00.000Z'),
      reindex_active: null,
    });
    const err = await rejection(moray.getBucket('nope'));
    assert.ok(err instanceof BucketNotFoundError);
    assert.equal(err.message, 'nope does not exist');
  });

  test('listBuckets and createBucket', async () => {
    const buckets = await moray.listBuckets();
    assert.deepEqual(
      buckets.map((b) => b.name),
      ['manta', 'manta_storage'],
    );
    assert.equal(last()?.args.length, 1);
    await moray.createBucket('b1', { index: { hostname: { type: 'string' } } });
    const call = last();
    assert.equal(call?.method, 'createBucket');
    assert.deepEqual(call?.args.slice(0, 2), [
      'b1',
      { index: { hostname: { type: 'string' } }, pre: [], post: [], options: {} },
    ]);
    assert.deepEqual(Object.keys(objectOptionsOf(call, 2)), ['req_id']);
  });

  test('sql streams raw rows (BIGINT strings) and sends [statement, values, options]', async () => {
    const rows = [];
    for await (const row of moray.sql('SELECT * FROM manta WHERE _id > $1', [5], {
      timeout: 10000,
    })) {
      rows.push(row);
    }
    assert.deepEqual(rows[1], { max: '123' });
    assert.equal((rows[0] as { _id: unknown })._id, '114590');
    const call = last();
    assert.deepEqual(call?.args.slice(0, 2), ['SELECT * FROM manta WHERE _id > $1', [5]]);
    const opts = objectOptionsOf(call, 2);
    assert.equal(opts.timeout, 10000);
    const err = await rejection(
      (async () => {
        for await (const _ of moray.sql('SELECT MAX(_idx) FROM manta', [])) {
          assert.fail('no rows expected');
        }
      })(),
    );
    assert.ok(err instanceof MorayError);
    assert.equal(err.name, 'error');
    assert.equal(err.message, 'column "_idx" does not exist');
    assert.equal(err.method, 'sql');
  });

  test('ping sends [{deep, req_id}]; version returns the number', async () => {
    await moray.ping({ deep: true });
    const call = last();
    assert.equal(call?.method, 'ping');
    const opts = objectOptionsOf(call, 0);
    assert.deepEqual(Object.keys(opts), ['deep', 'req_id']);
    assert.equal(opts.deep, true);
    assert.equal(await moray.version(), 2);
    assert.deepEqual(Object.keys(objectOptionsOf(last(), 0)), ['req_id']);
  });

  test('a summary RPC answering nothing is a MorayProtocolError', async () => {
    const err = await rejection(
      (moray as unknown as { one(m: string, a: unknown[], o: object): Promise<unknown> }).one(
        'broken',
        [],
        {},
      ),
    );
    assert.ok(err instanceof MorayProtocolError);
  });
});

describe('MorayClient connection errors', () => {
  test('an unreachable shard fails with MorayConnectionError naming method and shard', async () => {
    const shard = await fakeShard();
    const port = shard.port;
    await shard.server.close();
    const moray = new MorayClient({
      host: '127.0.0.1',
      port,
      log,
      healthCheckIntervalMs: 0,
    });
    try {
      const err = await rejection(moray.getObject('manta', '/k'));
      assert.ok(err instanceof MorayConnectionError);
      assert.equal(err.method, 'getObject');
      assert.equal(err.shard, `127.0.0.1:${port}`);
    } finally {
      await moray.close();
    }
  });
});

describe('MorayClient: the connection drops mid-response', () => {
  /** A raw Fast shard answering each request with `answer`; no reconnects, no health check. */
  async function withShard(
    answer: (peer: RawPeer, msgid: number, method: string | null) => void,
    run: (moray: MorayClient, shard: string) => Promise<void>,
  ): Promise<void> {
    const srv = await rawServer((peer) => {
      void (async () => {
        const msg = await peer.next();
        if (msg) answer(peer, msg.msgid, msg.data.m.name);
      })();
    });
    const moray = new MorayClient({
      host: '127.0.0.1',
      port: srv.port,
      log,
      connections: 1,
      healthCheckIntervalMs: 0,
      reconnect: { minDelayMs: 10, maxDelayMs: 10 },
    });
    try {
      await run(moray, `127.0.0.1:${srv.port}`);
    } finally {
      await moray.close();
      await srv.close();
    }
  }

  const connectionError = (method: string, shard: string) => (err: unknown) =>
    err instanceof MorayConnectionError && err.method === method && err.shard === shard;

  test('getObject: a DATA frame cut off mid-payload → MorayConnectionError', async () => {
    await withShard(
      (peer, msgid, method) => {
        const f = frame(FastStatus.Data, msgid, method, [mantaRecord(null)]);
        peer.send(f.subarray(0, f.length - 30));
        setTimeout(() => peer.socket.destroy(), 20);
      },
      (moray, shard) =>
        assert.rejects(moray.getObject('manta', '/k'), connectionError('getObject', shard)),
    );
  });

  test('findObjects: records already delivered, then the connection drops → MorayConnectionError', async () => {
    await withShard(
      (peer, msgid, method) => {
        peer.send(frame(FastStatus.Data, msgid, method, [mantaRecord(2)]));
        const f = frame(FastStatus.Data, msgid, method, [mantaRecord(2)]);
        peer.send(f.subarray(0, 10));
        setTimeout(() => peer.socket.destroy(), 20);
      },
      async (moray, shard) => {
        const seen: string[] = [];
        await assert.rejects(
          (async () => {
            for await (const o of moray.findObjects('manta', '(key=*)')) seen.push(o._etag);
          })(),
          connectionError('findObjects', shard),
        );
        assert.deepEqual(seen, ['7712D647']);
      },
    );
  });

  test('putObject: an unparsable answer → MorayConnectionError carrying fastReason', async () => {
    await withShard(
      (peer, msgid, method) => {
        peer.send(encodeFrameJson(2, FastStatus.End, msgid, { uts: 1, name: method }, '[{"etag"'));
      },
      async (moray, shard) => {
        const err = await rejection(moray.putObject('manta', '/k', { a: 1 }));
        assert.ok(connectionError('putObject', shard)(err), String(err));
        assert.equal((err as MorayConnectionError).info.fastReason, 'invalid_json');
      },
    );
  });

  test('putObject: an answer of the wrong shape → MorayProtocolError naming the field', async () => {
    await withShard(
      (peer, msgid, method) => {
        peer.send(frame(FastStatus.End, msgid, method, [{ etag: 42 }]));
      },
      async (moray) => {
        const err = await rejection(moray.putObject('manta', '/k', { a: 1 }));
        assert.ok(err instanceof MorayProtocolError, String(err));
        assert.equal(err.field, 'etag');
      },
    );
  });
});
