/**
 * The layout's `makoKeepAlive`: the sandbox's makos then keep connections open, as a real mako
 * with MAKO_HTTP_KEEPALIVE_TIMEOUT set (benchmarks measure the agents both ways); by default
 * every response closes its connection (up.test.ts).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startSandbox, stopSandbox } from '../../src/sandbox/up.ts';
import { testPostgresUrl } from '../support/database.ts';

/** One GET asking to keep the connection; resolves with the response's Connection header. */
function connectionHeader(url: string, agent: Agent): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.headers.connection));
    });
    req.on('error', reject);
    req.end();
  });
}

test('makoKeepAlive: the makos keep connections open', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sandbox-keep-alive-'));
  const pgUrl = testPostgresUrl();
  try {
    const sandbox = await startSandbox({
      dir,
      layout: {
        domain: 'keep-alive.test',
        shards: 1,
        sharks: 3,
        datacenters: 1,
        sharkCapacityBytes: 1024 ** 3,
        makoKeepAlive: true,
      },
      rebalancer: false,
      ...(pgUrl === undefined ? {} : { databaseUrl: pgUrl }),
    });
    const agent = new Agent({ keepAlive: true });
    try {
      for (const shark of sandbox.sharks) {
        const url = `${shark.mako_url}/no-owner/no-object`;
        assert.equal(await connectionHeader(url, agent), 'keep-alive');
      }
    } finally {
      agent.destroy();
      await stopSandbox(dir);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
