/**
 * Wire-level behaviour of the shard: Moray's InvocationError messages for bad arguments, raw
 * frames with msgid 0 reused sequentially on one socket (as rust-moray sends them), and a real
 * Moray client (src/moray) working against it.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  encodeFrame,
  type FastClient,
  FastDecoder,
  type FastMessage,
  FastStatus,
} from '../../../src/fast/index.ts';
import { MorayClient } from '../../../src/moray/index.ts';
import { MANTA_BUCKET } from '../../../src/sandbox/moray/manta-buckets.ts';
import { type MorayShard, startMorayShard } from '../../../src/sandbox/moray/shard.ts';
import { createTestDatabase, type TestDatabase } from '../../support/database.ts';
import { SAMPLE_ETAG, sampleMantaRecord } from './fixtures.ts';
import { fastClient, opts, rejectsWith, silent } from './helpers.ts';

let tdb: TestDatabase;
let shard: MorayShard;
let client: FastClient;

before(async () => {
  tdb = await createTestDatabase();
  shard = await startMorayShard({ db: tdb.db, log: silent });
  client = fastClient(shard.port);
  await client.call('createBucket', ['manta', MANTA_BUCKET, opts()]);
});

after(async () => {
  await client?.close();
  await shard?.close();
  await tdb?.drop();
});

describe('InvocationError', () => {
  const cases: [string, unknown[], string][] = [
    [
      'putObject',
      ['b', 'k', [1, 2, 3], {}],
      'putObject expects "value" (args[2]) to be an object: value should be object',
    ],
    [
      'delObject',
      ['b', 3041, {}],
      'delObject expects "key" (args[1]) to be a nonempty string: key should be string',
    ],
    [
      'getObject',
      ['', 'k', {}],
      'getObject expects "bucket" (args[0]) to be a nonempty string: bucket should NOT be shorter than 1 characters',
    ],
    [
      'findObjects',
      ['b', ['(a=5)'], {}],
      'findObjects expects "filter" (args[1]) to be a nonempty string: filter should be string',
    ],
    [
      'findObjects',
      ['b', '(a=5)', { sort: 5 }],
      'findObjects expects "options" (args[2]) to be a valid options object: options.sort should be array, options.sort should be object, options.sort should match some schema in anyOf',
    ],
    [
      'findObjects',
      ['b', '(a=5)', { sort: { attribute: 'foo', order: 'bad' } }],
      'findObjects expects "options" (args[2]) to be a valid options object: options.sort should be array, options.sort.order should be equal to one of the allowed values ("ASC", "DESC"), options.sort should match some schema in anyOf',
    ],
    [
      'deleteMany',
      ['b', '(a=5)', null],
      'deleteMany expects "options" (args[2]) to be a valid options object: options should be object',
    ],
    [
      'updateObjects',
      ['b', 'a=5', '(a=6)', {}],
      'updateObjects expects "fields" (args[1]) to be an object: fields should be object',
    ],
    [
      'batch',
      [{ bucket: 'b' }, {}],
      'batch expects "requests" (args[0]) to be an array of valid request objects: requests should be array',
    ],
    [
      'batch',
      [[{ operation: 'delete' }], {}],
      'batch expects "requests" (args[0]) to be an array of valid request objects: requests[0] should have required property \'bucket\'',
    ],
    [
      'batch',
      [
        [
          { bucket: 'b', key: 'k' },
          { operation: 'invalid', bucket: 'b' },
        ],
        {},
      ],
      'batch expects "requests" (args[0]) to be an array of valid request objects: requests[1].operation should be equal to one of the allowed values ("put", "delete", "update", "deleteMany")',
    ],
    [
      'getBucket',
      [null, 'b'],
      'getBucket expects "options" (args[0]) to be a valid options object: options should be object',
    ],
    [
      'updateBucket',
      ['b', {}, { no_reindex: 1 }],
      'updateBucket expects "options" (args[2]) to be a valid options object: options.no_reindex should be boolean',
    ],
    [
      'sql',
      ['SELECT 1', null, {}],
      'sql expects "values" (args[1]) to be an array: values should be array',
    ],
    [
      'sql',
      ['SELECT 1', [], { req_id: 'foo' }],
      'sql expects "options" (args[2]) to be a valid options object: options.req_id should match format "uuid"',
    ],
    [
      'sql',
      ['SELECT 1', [], { timeout: -1 }],
      'sql expects "options" (args[2]) to be a valid options object: options.timeout should be >= 0',
    ],
    [
      'ping',
      [[]],
      'ping expects "options" (args[0]) to be a valid options object: options should be object',
    ],
    [
      'ping',
      [{ deep: 1 }],
      'ping expects "options" (args[0]) to be a valid options object: options.deep should be boolean',
    ],
    [
      'findObjects',
      ['b', '(a=5)', { limit: 'ten' }],
      'findObjects expects "options" (args[2]) to be a valid options object: options.limit should match pattern "^[0-9]+$"',
    ],
    [
      'putObject',
      ['b', 'k', { hasOwnProperty: 1 }, {}],
      'putObject expects "value" (args[2]) to be an object: value.hasOwnProperty should NOT be valid',
    ],
  ];
  for (const [method, args, message] of cases) {
    test(`${method}: ${message.slice(message.indexOf(':') + 2) || message}`, async () => {
      await rejectsWith(client.call(method, args), 'InvocationError', message);
    });
  }

  const counts: [string, number][] = [
    ['createBucket', 3],
    ['getBucket', 2],
    ['listBuckets', 1],
    ['updateBucket', 3],
    ['delBucket', 2],
    ['putObject', 4],
    ['batch', 2],
    ['getObject', 3],
    ['delObject', 3],
    ['findObjects', 3],
    ['updateObjects', 4],
    ['deleteMany', 3],
    ['getTokens', 1],
    ['sql', 3],
    ['ping', 1],
    ['version', 1],
  ];
  test('every RPC checks its argument count first', async () => {
    for (const [method, n] of counts) {
      const args = Array.from({ length: n - 1 }, (_, i) => i + 1);
      await rejectsWith(
        client.call(method, args),
        'InvocationError',
        `${method} expects ${n} argument${n === 1 ? '' : 's'}`,
      );
    }
  });

  test('an unknown method is a FastError from the Fast layer', async () => {
    await rejectsWith(
      client.call('bogusName', []),
      'FastError',
      'unsupported RPC method: "bogusName"',
    );
  });
});

/** Sends one request frame and collects the frames answering it (up to END or ERROR). */
async function exchange(
  socket: Socket,
  decoder: FastDecoder,
  request: FastMessage,
): Promise<FastMessage[]> {
  const frames: FastMessage[] = [];
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      for (const msg of decoder.push(chunk)) {
        frames.push(msg);
        if (msg.status !== FastStatus.Data) {
          socket.off('data', onData);
          resolve(frames);
          return;
        }
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(encodeFrame(request));
  });
}

describe('raw frames', () => {
  test('msgid 0 is accepted and reused by sequential requests on one socket', async () => {
    const socket = connect(shard.port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const decoder = new FastDecoder();
    const request = (name: string, d: unknown[]): FastMessage => ({
      version: 2,
      status: FastStatus.Data,
      msgid: 0,
      data: { m: { uts: Date.now() * 1000, name }, d },
    });
    try {
      const key = sampleMantaRecord().key as string;
      const put = await exchange(
        socket,
        decoder,
        request('putObject', [
          'manta',
          key,
          sampleMantaRecord(),
          { req_id: '11111111-2222-4333-8444-555555555555', etag: null },
        ]),
      );
      assert.deepEqual(
        put.map((f) => [f.msgid, f.status, f.data.m.name, f.data.d]),
        [
          [0, FastStatus.Data, 'putObject', [{ etag: SAMPLE_ETAG }]],
          [0, FastStatus.End, 'putObject', []],
        ],
      );
      for (const f of put) assert.ok(Number.isInteger(f.data.m.uts));
      const max = await exchange(
        socket,
        decoder,
        request('sql', ['SELECT MAX(_id) FROM manta;', [], { limit: 1, no_count: true }]),
      );
      assert.equal(max.length, 2);
      const [row] = max[0]!.data.d as { max: string }[];
      assert.match(String(row?.max), /^\d+$/);
      const window = await exchange(
        socket,
        decoder,
        request('sql', [
          `SELECT * FROM manta WHERE _id >= 0 AND _id <= ${row?.max} AND type = 'object' limit 1000;`,
          [],
          { timeout: 10000 },
        ]),
      );
      const data = window.filter((f) => f.status === FastStatus.Data);
      assert.equal(data.length, 1);
      for (const f of data)
        assert.equal((f.data.d as unknown[]).length, 1, 'one row per DATA frame');
      const conflict = await exchange(
        socket,
        decoder,
        request('putObject', ['manta', key, sampleMantaRecord(), { etag: null }]),
      );
      assert.equal(conflict.length, 1);
      assert.equal(conflict[0]?.status, FastStatus.Error);
      assert.deepEqual(conflict[0]?.data.d, {
        name: 'EtagConflictError',
        message: `manta::${key} was expected to have etag "null", but was "${SAMPLE_ETAG}"`,
        context: { bucket: 'manta', key, expected: 'null', actual: SAMPLE_ETAG },
        info: {},
      });
      const version1 = await exchange(socket, decoder, { ...request('version', [{}]), version: 1 });
      assert.deepEqual(
        version1.map((f) => [f.version, f.data.d]),
        [
          [1, [{ version: 2 }]],
          [1, []],
        ],
      );
    } finally {
      socket.destroy();
    }
  });
});

describe('the project Moray client against the shard', () => {
  test('put, get, find, batch and etag conflicts through MorayClient', async () => {
    const moray = new MorayClient({
      host: shard.host,
      port: shard.port,
      connections: 1,
      log: silent,
    });
    try {
      const key = '/acct/stor/client';
      const value = { ...sampleMantaRecord(), key, name: 'client', dirname: '/acct/stor' };
      const { etag } = await moray.putObject('manta', key, value, { etag: null });
      const obj = await moray.getObject('manta', key);
      assert.equal(obj._etag, etag);
      assert.deepEqual(obj.value, value);
      const found = [];
      for await (const o of moray.findObjects('manta', '(dirname=/acct/stor)', {
        sort: { attribute: '_id', order: 'ASC' },
      })) {
        found.push(o);
      }
      assert.deepEqual(
        found.map((o) => o.key),
        [key],
      );
      const moved = {
        ...value,
        sharks: [{ datacenter: 'dc2', manta_storage_id: '9.stor.east.joyent.us' }],
      };
      const result = await moray.batch([{ bucket: 'manta', key, value: moved, options: { etag } }]);
      assert.equal(result.etags.length, 1);
      await assert.rejects(moray.putObject('manta', key, value, { etag }), (err: Error) => {
        assert.equal(err.name, 'EtagConflictError');
        return true;
      });
      const bucket = await moray.getBucket('manta');
      assert.equal(bucket.name, 'manta');
      assert.equal(await moray.version(), 2);
    } finally {
      await moray.close();
    }
  });
});
