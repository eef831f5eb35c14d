import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { FastClient, FastServerError } from '../../../src/fast/index.ts';
import { createLogger } from '../../../src/log/index.ts';
import { MorayClient } from '../../../src/moray/index.ts';
import { type MorayShardOptions, startMorayShard } from '../../../src/sandbox/moray/shard.ts';
import { createTestDatabase } from '../../support/database.ts';

export const silent = createLogger({ name: 'test', level: 'silent' });

export function fastClient(port: number): FastClient {
  return new FastClient({ host: '127.0.0.1', port, reconnect: false, log: silent });
}

/** A shard on a fresh test database and a MorayClient connected to it; `close` undoes both. */
export async function startShardWithClient(options: Partial<MorayShardOptions> = {}) {
  const tdb = await createTestDatabase();
  const shard = await startMorayShard({ db: tdb.db, port: 0, log: silent, ...options });
  const client = new MorayClient({
    host: '127.0.0.1',
    port: shard.port,
    connections: 1,
    log: silent,
  });
  await client.connect();
  return {
    tdb,
    shard,
    client,
    async close(): Promise<void> {
      await client.close();
      await shard.close();
      await tdb.drop();
    },
  };
}

/** Options as node-moray sends them for object RPCs. */
export function opts(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    req_id: randomUUID(),
    headers: {},
    no_count: false,
    sql_only: false,
    noCache: true,
    ...extra,
  };
}

/** Asserts that the call fails with exactly this Moray error. */
export async function rejectsWith(
  call: Promise<unknown>,
  name: string,
  message: string | RegExp,
  context?: Record<string, unknown>,
): Promise<void> {
  await assert.rejects(call, (err: unknown) => {
    assert.ok(err instanceof FastServerError, `expected a server error, got ${String(err)}`);
    assert.equal(err.name, name);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    if (context) assert.deepEqual(err.context, context);
    return true;
  });
}
