import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { type Database, openDatabase } from '../../src/db/index.ts';

/**
 * Tests that need PostgreSQL use the server named by this variable (CI sets it to the machine's
 * real PostgreSQL); without it they use an embedded PGlite, so `npm test` passes anywhere.
 */
export const TEST_PG_URL_ENV = 'REBALANCER_TEST_PG_URL';

export interface TestDatabase {
  db: Database;
  /** The fresh database's URL on real PostgreSQL; undefined on PGlite. */
  url: string | undefined;
  drop(): Promise<void>;
}

export function testPostgresUrl(): string | undefined {
  const url = process.env[TEST_PG_URL_ENV];
  return url === undefined || url === '' ? undefined : url;
}

async function withAdmin<T>(adminUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  try {
    await client.connect();
  } catch (err) {
    // Never fall back to PGlite here: CI asked for real PostgreSQL and must fail loudly.
    throw new Error(
      `${TEST_PG_URL_ENV}=${adminUrl} is set but PostgreSQL is unreachable: ${(err as Error).message}`,
      { cause: err },
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates an empty database on the test server (name returned) and returns its URL. */
export async function createTestDatabaseUrl(
  adminUrl: string,
): Promise<{ name: string; url: string }> {
  const name = `rebalancer_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  await withAdmin(adminUrl, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return { name, url: url.toString() };
}

export async function dropTestDatabase(adminUrl: string, name: string): Promise<void> {
  await withAdmin(adminUrl, (client) =>
    client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  );
}

/** A fresh, empty database for one test file: real PostgreSQL when configured, else PGlite. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = testPostgresUrl();
  if (adminUrl === undefined) {
    const db = await openDatabase();
    return { db, url: undefined, drop: () => db.close() };
  }
  const { name, url } = await createTestDatabaseUrl(adminUrl);
  const db = await openDatabase({ url, poolSize: 4 });
  return {
    db,
    url,
    drop: async () => {
      await db.close();
      await dropTestDatabase(adminUrl, name);
    },
  };
}
