import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  encodeFrame,
  encodeFrameJson,
  FastClient,
  FastDecoder,
  FastServer,
  FastStatus,
  type FastVersion,
} from '../../src/fast/index.ts';
import { log } from './helpers.ts';

describe('encodeFrameJson', () => {
  const values: unknown[] = [
    { bucket: 'manta', key: '/a/b', value: { x: 1, s: 'é ☃ \u0000 "q"' }, _id: 7 },
    ['a', 1, true, null],
    'plain',
  ];
  for (const version of [1, 2] as FastVersion[]) {
    test(`v${version}: the bytes of encodeFrame for the same d`, () => {
      for (const value of values) {
        const meta = { uts: 1_570_611_723_062_000, name: 'findObjects' };
        const expected = encodeFrame({
          version,
          status: FastStatus.Data,
          msgid: 42,
          data: { m: meta, d: [value] },
        });
        const actual = encodeFrameJson(
          version,
          FastStatus.Data,
          42,
          meta,
          `[${JSON.stringify(value)}]`,
        );
        assert.deepEqual(actual, expected);
        const [decoded] = new FastDecoder().push(actual);
        assert.deepEqual(decoded?.data.d, [value]);
      }
    });
  }

  test('header fields are checked as in encodeFrame', () => {
    const meta = { uts: 1, name: 'x' };
    assert.throws(() => encodeFrameJson(3 as FastVersion, FastStatus.Data, 1, meta, '[]'));
    assert.throws(() => encodeFrameJson(2, FastStatus.Data, -1, meta, '[]'));
    assert.throws(() => encodeFrameJson(2, FastStatus.Data, 1, { uts: 1.5, name: 'x' }, '[]'));
  });
});

describe('FastRpc.writeJson', () => {
  const server = new FastServer({ log });
  let client: FastClient;

  before(async () => {
    server.register('mixed', async (rpc) => {
      await rpc.write({ n: 1 });
      await rpc.writeJson('{"n":2,"nested":{"a":[1,2]}}');
      await rpc.write({ n: 3 });
    });
    server.register('many', async (rpc) => {
      const n = rpc.args[0] as number;
      for (let i = 0; i < n; i++) await rpc.writeJson(`{"i":${i},"pad":"${'x'.repeat(500)}"}`);
    });
    server.register('nullJson', async (rpc) => {
      await rpc.writeJson('null');
    });
    const { port } = await server.listen(0);
    client = new FastClient({ host: '127.0.0.1', port, reconnect: false, log });
  });

  after(async () => {
    await client.close();
    await server.close();
  });

  test('values sent as JSON text arrive parsed, in order with ordinary writes', async () => {
    assert.deepEqual(await client.call('mixed', []), [
      { n: 1 },
      { n: 2, nested: { a: [1, 2] } },
      { n: 3 },
    ]);
  });

  test('a long stream of JSON-text values respects backpressure and order', async () => {
    const values = (await client.call('many', [3000])) as { i: number }[];
    assert.equal(values.length, 3000);
    assert.ok(values.every((v, i) => v.i === i));
  });

  test('null is refused as a value, as with write', async () => {
    await assert.rejects(client.call('nullJson', []), /must not be null/);
  });
});
