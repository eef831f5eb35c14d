import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTestDatabase, TEST_PG_URL_ENV } from './database.ts';

test('an unreachable REBALANCER_TEST_PG_URL fails loudly instead of falling back to PGlite', async () => {
  const saved = process.env[TEST_PG_URL_ENV];
  process.env[TEST_PG_URL_ENV] = 'postgres://postgres@127.0.0.1:1/postgres';
  try {
    await assert.rejects(createTestDatabase(), (err: Error) => {
      assert.match(
        err.message,
        /REBALANCER_TEST_PG_URL=.*127\.0\.0\.1:1.* is set but PostgreSQL is unreachable/,
      );
      return true;
    });
  } finally {
    if (saved === undefined) delete process.env[TEST_PG_URL_ENV];
    else process.env[TEST_PG_URL_ENV] = saved;
  }
});
