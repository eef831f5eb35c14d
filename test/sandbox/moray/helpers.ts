import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { FastClient, FastServerError } from '../../../src/fast/index.ts';
import { createLogger } from '../../../src/log/index.ts';

export const silent = createLogger({ name: 'test', level: 'silent' });

export function fastClient(port: number): FastClient {
  return new FastClient({ host: '127.0.0.1', port, reconnect: false, log: silent });
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
