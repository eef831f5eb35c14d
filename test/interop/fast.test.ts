/**
 * Byte compatibility of src/fast with the real node-fast 3.1.3: identical frame encoding, node-fast
 * FastServer ↔ our FastClient, our FastServer ↔ node-fast FastClient, for both CRC versions.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  crc16OldFast,
  encodeFrame,
  FastClient,
  type FastMessage,
  FastServer,
  FastServerError,
  FastStatus,
  type FastVersion,
  RpcError,
} from '../../src/fast/index.ts';
import { createLogger } from '../../src/log/index.ts';
import {
  type InteropLibraries,
  interopLibraries,
  type NodeFastClient,
  serverCause,
} from './support.ts';

const silent = createLogger({ name: 'interop', level: 'silent' });
const libs = interopLibraries('interop: node-fast 3.1.3');

/** Payloads whose v1 CRC differs from XMODEM over bytes, and that need surrogate pairs. */
const NON_ASCII = { text: 'é ü 漢字 🚀 \u0000 "quoted" \\', n: -1.5e-7, nested: [{ ä: null }] };

if (libs) {
  describe('frame encoding', () => {
    const cases: { status: FastStatus; msgid: number; data: FastMessage['data'] }[] = [
      { status: FastStatus.Data, msgid: 1, data: { m: { uts: 0, name: 'echo' }, d: ['hello'] } },
      {
        status: FastStatus.Data,
        msgid: 0x7fffffff,
        data: { m: { uts: 1, name: 'x' }, d: [NON_ASCII] },
      },
      {
        status: FastStatus.End,
        msgid: 0,
        data: { m: { uts: 1700000000000250, name: 'ping' }, d: [] },
      },
      {
        status: FastStatus.Error,
        msgid: 2,
        data: {
          m: { uts: 1, name: 'getObject' },
          d: { name: 'E', message: 'ü', context: {}, info: {} },
        },
      },
    ];
    for (const version of [1, 2] as FastVersion[]) {
      test(`version ${version}: our encoder writes node-fast's bytes`, () => {
        for (const c of cases) {
          const ours = encodeFrame({ version, status: c.status, msgid: c.msgid, data: c.data });
          const theirs = libs.fastProtocol.fastMessageEncode({ version, ...c });
          assert.deepEqual(ours, theirs, JSON.stringify(c));
        }
      });
    }

    test('node-fast\'s own vectors: 7500 (v2) and 10980 (v1) for ["hello","world"]', () => {
      const data = ['hello', 'world'];
      const v2 = libs.fastProtocol.fastMessageEncode({ version: 2, status: 1, msgid: 1, data });
      const v1 = libs.fastProtocol.fastMessageEncode({ version: 1, status: 1, msgid: 1, data });
      assert.equal(v2.readUInt32BE(7), 7500);
      assert.equal(v1.readUInt32BE(7), 10980);
      assert.equal(crc16OldFast('"é"'), 18092);
    });
  });

  describe('node-fast FastServer ↔ our FastClient', () => {
    const netServer = createServer();
    let server: ReturnType<typeof startNodeFastServer>;
    let port = 0;

    before(async () => {
      server = startNodeFastServer(libs, netServer);
      netServer.listen(0, '127.0.0.1');
      await once(netServer, 'listening');
      port = (netServer.address() as AddressInfo).port;
    });

    after(async () => {
      server.close();
      await new Promise<void>((resolve) => netServer.close(() => resolve()));
    });

    for (const version of [1, 2] as FastVersion[]) {
      describe(`version ${version}`, () => {
        let client: FastClient;
        before(() => {
          client = new FastClient({
            host: '127.0.0.1',
            port,
            version,
            reconnect: false,
            log: silent,
          });
        });
        after(() => client.close());

        test('echo of non-ASCII values', async () => {
          const values = [NON_ASCII, { k: 'ascii' }, { emoji: '🚀'.repeat(1000) }];
          assert.deepEqual(await client.call('echo', values), values);
        });

        test('a stream of many records', async () => {
          let i = 0;
          for await (const value of client.request('count', [5000])) {
            assert.deepEqual(value, { i, s: `ü${i}` });
            i++;
          }
          assert.equal(i, 5000);
        });

        test('an error with context after partial data', async () => {
          const seen: unknown[] = [];
          await assert.rejects(
            (async () => {
              for await (const v of client.request('fail', [])) seen.push(v);
            })(),
            (err: unknown) => {
              assert.ok(err instanceof FastServerError, String(err));
              assert.equal(err.name, 'EtagConflictError');
              assert.equal(err.message, 'manta::/k was expected to have etag "A", but was "ß"');
              assert.deepEqual(err.context, {
                bucket: 'manta',
                key: '/k',
                expected: 'A',
                actual: 'ß',
              });
              return true;
            },
          );
          assert.deepEqual(seen, [{ partial: true }]);
        });

        test('an unknown method is a FastError', async () => {
          await assert.rejects(client.call('nope', []), (err: unknown) => {
            assert.ok(err instanceof FastServerError);
            assert.equal(err.name, 'FastError');
            assert.equal(err.info.fastReason, 'bad_method');
            return true;
          });
        });

        test('many concurrent requests on one connection', async () => {
          const results = await Promise.all(
            Array.from({ length: 200 }, (_, i) => client.call('echo', [{ i, t: 'ä'.repeat(i) }])),
          );
          assert.deepEqual(
            results,
            results.map((_, i) => [{ i, t: 'ä'.repeat(i) }]),
          );
        });
      });
    }
  });

  describe('our FastServer ↔ node-fast FastClient', () => {
    const server = new FastServer({ log: silent });
    let port = 0;

    before(async () => {
      server.register('echo', async (rpc) => {
        for (const arg of rpc.args) await rpc.write(arg);
      });
      server.register('count', async (rpc) => {
        const n = rpc.args[0] as number;
        for (let i = 0; i < n; i++) await rpc.write({ i, s: `ü${i}` });
      });
      server.register('json', async (rpc) => {
        await rpc.writeJson(JSON.stringify(NON_ASCII));
      });
      server.register('fail', async (rpc) => {
        await rpc.write({ partial: true });
        throw new RpcError('EtagConflictError', 'manta::/k was expected to have etag "A"', {
          context: { bucket: 'manta', key: '/k', expected: 'A', actual: 'ü' },
        });
      });
      ({ port } = await server.listen(0));
    });

    after(() => server.close());

    for (const version of [undefined, 1] as const) {
      describe(`node-fast client ${version === undefined ? 'default version (2)' : 'version 1'}`, () => {
        let socket: Socket;
        let client: NodeFastClient;

        before(async () => {
          socket = connect({ host: '127.0.0.1', port });
          await once(socket, 'connect');
          client = new libs.fast.FastClient({
            log: libs.log,
            transport: socket,
            nRecentRequests: 10,
            ...(version === undefined ? {} : { version }),
          });
        });

        after(() => {
          client.detach();
          socket.destroy();
        });

        test('echo of non-ASCII values', async () => {
          const values = [NON_ASCII, { k: 'ascii' }, { emoji: '🚀'.repeat(1000) }];
          assert.deepEqual(await nodeFastCall(client, 'echo', values), values);
        });

        test('values sent as raw JSON text', async () => {
          assert.deepEqual(await nodeFastCall(client, 'json', []), [NON_ASCII]);
        });

        test('a stream of many records', async () => {
          const values = await nodeFastCall(client, 'count', [5000]);
          assert.equal(values.length, 5000);
          assert.deepEqual(values[4999], { i: 4999, s: 'ü4999' });
        });

        test('an error with context', async () => {
          await assert.rejects(nodeFastCall(client, 'fail', []), (err: Error) => {
            const cause = serverCause(err);
            assert.equal(cause.name, 'EtagConflictError');
            assert.equal(cause.message, 'manta::/k was expected to have etag "A"');
            assert.deepEqual(cause.context, {
              bucket: 'manta',
              key: '/k',
              expected: 'A',
              actual: 'ü',
            });
            return true;
          });
        });

        test('an unknown method', async () => {
          await assert.rejects(nodeFastCall(client, 'nope', []), (err: Error) => {
            const cause = serverCause(err);
            assert.equal(cause.name, 'FastError');
            assert.equal(cause.message, 'unsupported RPC method: "nope"');
            return true;
          });
        });

        test('many concurrent requests', async () => {
          const results = await Promise.all(
            Array.from({ length: 200 }, (_, i) => nodeFastCall(client, 'echo', [{ i }])),
          );
          assert.deepEqual(
            results,
            results.map((_, i) => [{ i }]),
          );
        });
      });
    }
  });
}

/** node-fast's server with echo, count and fail handlers. */
function startNodeFastServer(l: InteropLibraries, netServer: ReturnType<typeof createServer>) {
  const server = new l.fast.FastServer({ log: l.log, server: netServer });
  server.registerRpcMethod({
    rpcmethod: 'echo',
    rpchandler: (rpc) => {
      for (const arg of rpc.argv()) rpc.write(arg as object);
      rpc.end();
    },
  });
  server.registerRpcMethod({
    rpcmethod: 'count',
    rpchandler: (rpc) => {
      const n = rpc.argv()[0] as number;
      let i = 0;
      // Respect the stream's backpressure, as a real handler would.
      const more = (): void => {
        while (i < n) {
          const ok = rpc.write({ i, s: `ü${i}` });
          i++;
          if (!ok) {
            rpc.once('drain', more);
            return;
          }
        }
        rpc.end();
      };
      more();
    },
  });
  server.registerRpcMethod({
    rpcmethod: 'fail',
    rpchandler: (rpc) => {
      rpc.write({ partial: true });
      const err = new Error('manta::/k was expected to have etag "A", but was "ß"') as Error & {
        context: Record<string, unknown>;
      };
      err.name = 'EtagConflictError';
      err.context = { bucket: 'manta', key: '/k', expected: 'A', actual: 'ß' };
      // After the DATA went out: fail() completes the request at once.
      setImmediate(() => rpc.fail(err));
    },
  });
  return server;
}

function nodeFastCall(client: NodeFastClient, method: string, args: unknown[]): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const values: unknown[] = [];
    client
      .rpc({ rpcmethod: method, rpcargs: args })
      .on('data', (v) => values.push(v))
      .on('end', () => resolve(values))
      .on('error', reject);
  });
}
