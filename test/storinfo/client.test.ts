import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  nextAfterId,
  StorinfoClient,
  StorinfoPoller,
  StorinfoRequestError,
} from '../../src/storinfo/index.ts';
import { startBrokenHttpServer } from '../support/broken-http.ts';
import { type FakeStorinfo, node, startFakeStorinfo } from './fake-storinfo.ts';

const many = (count: number) => Array.from({ length: count }, (_, i) => node(i + 1));

describe('StorinfoClient paging', () => {
  let fake: FakeStorinfo;
  let client: StorinfoClient;
  before(async () => {
    fake = await startFakeStorinfo(many(250));
    client = new StorinfoClient({ baseUrl: fake.url });
  });
  after(async () => {
    await client.close();
    await fake.close();
  });

  test('follows Link rel=next and returns every node once, in order, extra fields dropped', async () => {
    fake.requests.length = 0;
    fake.sendLink = true;
    const nodes = await client.listStorageNodes();
    assert.equal(nodes.length, 250);
    assert.deepEqual(
      nodes.map((n) => n.manta_storage_id),
      many(250).map((n) => n.manta_storage_id),
    );
    assert.deepEqual(Object.keys(nodes[0] ?? {}).sort(), [
      'availableMB',
      'datacenter',
      'filesystem',
      'manta_storage_id',
      'percentUsed',
      'timestamp',
    ]);
    assert.deepEqual(fake.requests, [
      'GET /storagenodes?limit=100&after_id=',
      'GET /storagenodes?limit=100&after_id=100.stor.test.example.com',
      'GET /storagenodes?limit=100&after_id=200.stor.test.example.com',
    ]);
  });

  test('without Link, pages by the last id while pages are full (L behaviour)', async () => {
    fake.requests.length = 0;
    fake.sendLink = false;
    fake.nodes = many(200);
    const nodes = await client.listStorageNodes();
    assert.equal(nodes.length, 200);
    // A full last page costs one more request, answered with [].
    assert.deepEqual(fake.requests, [
      'GET /storagenodes?limit=100&after_id=',
      'GET /storagenodes?limit=100&after_id=100.stor.test.example.com',
      'GET /storagenodes?limit=100&after_id=200.stor.test.example.com',
    ]);
    fake.sendLink = true;
    fake.nodes = many(250);
  });

  test('an empty listing is an empty array', async () => {
    fake.nodes = [];
    assert.deepEqual(await client.listStorageNodes(), []);
    fake.nodes = many(250);
  });

  test('a cursor that vanishes between pages restarts the listing', async () => {
    let removed = false;
    fake.beforePage = (afterId) => {
      if (afterId === '100.stor.test.example.com' && !removed) {
        removed = true;
        fake.nodes = fake.nodes.filter((n) => n.manta_storage_id !== afterId);
      }
    };
    try {
      const nodes = await client.listStorageNodes();
      assert.equal(nodes.length, 249);
      assert.ok(!nodes.some((n) => n.manta_storage_id === '100.stor.test.example.com'));
    } finally {
      fake.beforePage = undefined;
      fake.nodes = many(250);
    }
  });

  test('a cursor that never advances is an error, not a loop', async () => {
    const looping = await startFakeStorinfo(many(3));
    const c = new StorinfoClient({ baseUrl: looping.url, pageSize: 1 });
    // Every page, whatever its cursor, is the same single record.
    looping.rawBody = JSON.stringify([node(1)]);
    try {
      await assert.rejects(c.listStorageNodes(), (err: unknown) => {
        assert.ok(err instanceof StorinfoRequestError);
        assert.equal(err.kind, 'paging');
        return true;
      });
    } finally {
      await c.close();
      await looping.close();
    }
  });

  test('HTTP 500 → StorinfoRequestError with status, never a partial list', async () => {
    fake.failWith = 500;
    try {
      await assert.rejects(client.listStorageNodes(), (err: unknown) => {
        assert.ok(err instanceof StorinfoRequestError);
        assert.equal(err.kind, 'status');
        assert.equal(err.status, 500);
        assert.match(err.message, /GET .*\/storagenodes/);
        return true;
      });
    } finally {
      fake.failWith = undefined;
    }
  });

  test('a malformed record names the record and the field', async () => {
    fake.nodes = [node(1), node(2, { percentUsed: 12.5 }), node(3)];
    await assert.rejects(client.listStorageNodes(), (err: unknown) => {
      assert.ok(err instanceof StorinfoRequestError);
      assert.equal(err.kind, 'record');
      assert.match(err.message, /record 1 \(2\.stor\.test\.example\.com\): field percentUsed/);
      return true;
    });
    fake.nodes = [node(1), node(2, { availableMB: undefined }), node(3)];
    await assert.rejects(client.listStorageNodes(), /field availableMB is missing/);
    fake.nodes = many(250);
  });

  test('snake_case aliases are accepted', async () => {
    const { availableMB, percentUsed, ...rest } = node(7);
    fake.nodes = [{ ...rest, available_mb: availableMB, percent_used: percentUsed }];
    const [n] = await client.listStorageNodes();
    assert.equal(n?.availableMB, availableMB);
    assert.equal(n?.percentUsed, percentUsed);
    fake.nodes = many(250);
  });

  test('non-JSON and non-array bodies are body errors', async () => {
    const bodyError = (pattern: RegExp) => (err: unknown) =>
      err instanceof StorinfoRequestError && err.kind === 'body' && pattern.test(err.message);
    fake.rawBody = '<html>';
    await assert.rejects(client.listStorageNodes(), bodyError(/response is not JSON/));
    fake.rawBody = '{"nodes":[]}';
    await assert.rejects(client.listStorageNodes(), bodyError(/not a JSON array/));
    fake.rawBody = undefined;
  });

  test('connection refused is a transport error', async () => {
    const dead = await startFakeStorinfo([]);
    const url = dead.url;
    await dead.close();
    const c = new StorinfoClient({ baseUrl: url });
    try {
      await assert.rejects(c.listStorageNodes(), (err: unknown) => {
        assert.ok(err instanceof StorinfoRequestError);
        assert.equal(err.kind, 'transport');
        return true;
      });
    } finally {
      await c.close();
    }
  });
});

describe('StorinfoClient: the connection drops mid-response', () => {
  const transport = (method: string) => (err: unknown) =>
    err instanceof StorinfoRequestError &&
    err.kind === 'transport' &&
    err.method === method &&
    err.status === undefined;

  async function against(
    response: Parameters<typeof startBrokenHttpServer>[0],
    run: (client: StorinfoClient) => Promise<void>,
  ): Promise<void> {
    const server = await startBrokenHttpServer(response);
    const client = new StorinfoClient({ baseUrl: server.url, timeoutMs: 5000 });
    try {
      await run(client);
    } finally {
      await client.close();
      await server.close();
    }
  }

  test('a page whose body is cut off is a transport error, never a partial list', async () => {
    const partial = JSON.stringify([node(1), node(2)]).slice(0, -20);
    await against(
      { status: '200 OK', partialBody: partial, headers: ['Content-Type: application/json'] },
      (c) => assert.rejects(c.listStorageNodes(), transport('GET')),
    );
  });

  test('an error page cut off is a transport error too', async () => {
    await against({ status: '500 Internal Server Error', partialBody: 'oops' }, (c) =>
      assert.rejects(c.listStorageNodes(), transport('GET')),
    );
  });

  test('cut off inside the headers: listing and flush are transport errors', async () => {
    await against({ cutInHeaders: true }, async (c) => {
      await assert.rejects(c.listStorageNodes(), transport('GET'));
      await assert.rejects(c.flush(), transport('POST'));
    });
  });

  test('a flush answer cut off is a transport error', async () => {
    await against({ status: '200 OK', partialBody: '{' }, (c) =>
      assert.rejects(c.flush(), transport('POST')),
    );
  });
});

describe('nextAfterId', () => {
  test('parses rel=next among several links, relative or absolute', () => {
    const base = 'http://s/storagenodes?limit=2&after_id=';
    assert.equal(
      nextAfterId('</storagenodes?after_id=3.stor.x&limit=2>; rel="next"', base),
      '3.stor.x',
    );
    assert.equal(
      nextAfterId('<http://s/a?after_id=a>; rel="prev", <http://s/a?after_id=b>; rel=next', base),
      'b',
    );
    assert.equal(nextAfterId(undefined, base), undefined);
    assert.equal(nextAfterId('<http://s/a?x=1>; rel="next"', base), undefined);
  });
});

describe('StorinfoPoller', () => {
  let fake: FakeStorinfo;
  let client: StorinfoClient;
  before(async () => {
    fake = await startFakeStorinfo(many(3));
    client = new StorinfoClient({ baseUrl: fake.url });
  });
  after(async () => {
    await client.close();
    await fake.close();
  });

  test('a failed poll keeps the last good snapshot and reports age and error', async () => {
    let clock = 1000;
    const poller = new StorinfoPoller({ client, intervalMs: 60_000, now: () => clock });
    try {
      const first = await poller.start();
      assert.equal(first.snapshot?.nodes.length, 3);
      assert.equal(first.snapshot?.version, 1);
      assert.equal(first.lastError, undefined);

      fake.failWith = 503;
      clock = 6000;
      assert.equal(await poller.poll(), undefined);
      const status = poller.status();
      assert.equal(status.snapshot?.nodes.length, 3, 'snapshot kept');
      assert.equal(status.snapshot?.version, 1);
      assert.equal(status.ageMs, 5000);
      assert.equal(status.consecutiveFailures, 1);
      assert.ok(status.lastError instanceof StorinfoRequestError);
      assert.equal(status.lastErrorAt, 6000);

      fake.failWith = undefined;
      fake.nodes = many(4);
      const next = await poller.poll();
      assert.equal(next?.nodes.length, 4);
      assert.equal(next?.version, 2);
      assert.equal(poller.status().consecutiveFailures, 0);
      assert.equal(poller.status().ageMs, 0);
    } finally {
      poller.stop();
      fake.failWith = undefined;
      fake.nodes = many(3);
    }
  });

  test('first poll failing leaves no snapshot but does not throw', async () => {
    fake.failWith = 500;
    const poller = new StorinfoPoller({ client, intervalMs: 60_000 });
    try {
      const status = await poller.start();
      assert.equal(status.snapshot, undefined);
      assert.equal(status.ageMs, undefined);
      assert.ok(status.lastError);
    } finally {
      poller.stop();
      fake.failWith = undefined;
    }
  });

  test('polls on its interval', async () => {
    const poller = new StorinfoPoller({ client, intervalMs: 5 });
    try {
      await poller.start();
      while ((poller.snapshot()?.version ?? 0) < 3) {
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.ok((poller.snapshot()?.version ?? 0) >= 3);
    } finally {
      poller.stop();
    }
  });

  test('flush posts /flush then re-polls; a failed flush keeps the snapshot', async () => {
    const poller = new StorinfoPoller({ client, intervalMs: 60_000 });
    try {
      await poller.start();
      const flushes = fake.flushes;
      fake.nodes = many(5);
      const snap = await poller.flush();
      assert.equal(fake.flushes, flushes + 1);
      assert.equal(snap?.nodes.length, 5);

      fake.failWith = 500;
      await assert.rejects(poller.flush(), /POST .*\/flush: HTTP 500/);
      assert.equal(poller.snapshot()?.nodes.length, 5);
    } finally {
      poller.stop();
      fake.failWith = undefined;
      fake.nodes = many(3);
    }
  });
});
