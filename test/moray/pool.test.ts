import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { MorayClient } from '../../src/moray/index.ts';
import { fakeShard, log } from './fixtures.ts';

/** A TCP proxy in front of the shard, so a test can kill or freeze single connections. */
async function proxy(target: number): Promise<{
  port: number;
  pairs: { client: Socket; upstream: Socket }[];
  close(): Promise<void>;
}> {
  const pairs: { client: Socket; upstream: Socket }[] = [];
  const server = createServer((client) => {
    const upstream = connect({ host: '127.0.0.1', port: target });
    pairs.push({ client, upstream });
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    pairs,
    async close() {
      for (const p of pairs) {
        p.client.destroy();
        p.upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('MorayClient pool', () => {
  test('never has more than maxInFlight requests running; the rest queue', async () => {
    let running = 0;
    let maxRunning = 0;
    const waiting: (() => void)[] = [];
    const shard = await fakeShard({
      sql: async (rpc) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise<void>((resolve) => waiting.push(resolve));
        running--;
        await rpc.write({ n: rpc.args[1] });
      },
    });
    const moray = new MorayClient({
      host: '127.0.0.1',
      port: shard.port,
      log,
      connections: 2,
      maxInFlight: 3,
      healthCheckIntervalMs: 0,
    });
    try {
      const collect = async (i: number): Promise<unknown[]> => {
        const rows: unknown[] = [];
        for await (const r of moray.sql('SELECT $1', [i])) rows.push(r);
        return rows;
      };
      const all = Promise.all(Array.from({ length: 10 }, (_, i) => collect(i)));
      while (waiting.length < 3) await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(moray.stats.active, 3);
      assert.deepEqual(moray.stats.queued, 7);
      // Release one at a time: each release lets exactly one queued request in.
      let released = 0;
      while (released < 10) {
        const next = waiting.shift();
        if (next) {
          next();
          released++;
        } else {
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
      const results = await all;
      assert.deepEqual(
        results.map((r) => r.length),
        Array(10).fill(1),
      );
      assert.equal(maxRunning, 3);
      assert.equal(moray.stats.active, 0);
    } finally {
      await moray.close();
      await shard.server.close();
    }
  });

  test('a killed connection is replaced (health check reconnects it)', async () => {
    const shard = await fakeShard();
    const px = await proxy(shard.port);
    const moray = new MorayClient({
      host: '127.0.0.1',
      port: px.port,
      log,
      connections: 2,
      healthCheckIntervalMs: 0,
      reconnect: { minDelayMs: 1, maxDelayMs: 5 },
    });
    try {
      await moray.connect();
      assert.equal(moray.stats.connected, 2);
      px.pairs[0]?.client.destroy();
      while (moray.stats.connected === 2) await new Promise((resolve) => setImmediate(resolve));
      // Requests keep working on the surviving connection meanwhile.
      assert.equal(await moray.version(), 2);
      for (let i = 0; i < 100 && moray.stats.connected < 2; i++) {
        await moray.healthCheck();
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      assert.equal(moray.stats.connected, 2);
      assert.equal(px.pairs.length, 3);
    } finally {
      await moray.close();
      await px.close();
      await shard.server.close();
    }
  });

  test('a connection paused under a slow consumer is not taken for hung', async () => {
    const rows = 2_000;
    const shard = await fakeShard({
      sql: async (rpc) => {
        for (let i = 0; i < rows; i++) await rpc.write({ i, pad: 'x'.repeat(200) });
      },
      // A ping could only be answered after the rows the client has not read yet.
      ping: async () => new Promise((resolve) => setTimeout(resolve, 60_000)),
    });
    const moray = new MorayClient({
      host: '127.0.0.1',
      port: shard.port,
      log,
      connections: 1,
      healthCheckIntervalMs: 0,
      healthCheckTimeoutMs: 50,
    });
    try {
      let seen = 0;
      for await (const _row of moray.sql('SELECT 1', [])) {
        seen++;
        // The consumer dawdles, so the connection's reading pauses; a health check then finds
        // it paused and leaves it alone instead of replacing it under the stream.
        if (seen % 500 === 0) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          await moray.healthCheck();
        }
      }
      assert.equal(seen, rows);
    } finally {
      await moray.close();
      await shard.server.close();
    }
  });

  test('a hung connection (ping times out) is replaced by a new one', async () => {
    const shard = await fakeShard();
    const px = await proxy(shard.port);
    const moray = new MorayClient({
      host: '127.0.0.1',
      port: px.port,
      log,
      connections: 1,
      healthCheckIntervalMs: 0,
      healthCheckTimeoutMs: 50,
    });
    try {
      await moray.connect();
      // Black-hole the only connection: bytes are read and dropped, nothing is forwarded.
      const first = px.pairs[0];
      assert.ok(first);
      first.client.unpipe();
      first.upstream.unpipe();
      first.client.resume();
      first.upstream.resume();
      await moray.healthCheck();
      assert.equal(await moray.version(), 2);
      assert.equal(px.pairs.length, 2);
      // The replaced connection was closed by the client.
      if (!first.client.destroyed) await once(first.client, 'close');
    } finally {
      await moray.close();
      await px.close();
      await shard.server.close();
    }
  });
});
