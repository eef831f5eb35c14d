import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { RebalancerError } from '../errors.ts';

/** Databases the sandbox creates on a real PostgreSQL server (one per shard, one for the manager). */
export class SandboxDatabaseError extends RebalancerError {
  override readonly name = 'SandboxDatabaseError';
  readonly code = 'sandbox_database';
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
  } catch (err) {
    throw new SandboxDatabaseError(
      `cannot connect to PostgreSQL at ${redact(url)}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates `sandbox_<random>_<suffix>` next to the database of `adminUrl`; returns its URL. */
export async function createSandboxDatabase(adminUrl: string, suffix: string): Promise<string> {
  const name = `sandbox_${randomBytes(4).toString('hex')}_${suffix.replace(/[^a-z0-9_]/g, '_')}`;
  await withClient(adminUrl, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Drops a database made by createSandboxDatabase (connecting to `postgres` to do it). */
export async function dropSandboxDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = url.pathname.slice(1);
  if (!/^sandbox_[0-9a-f]{8}_[a-z0-9_]+$/.test(name)) {
    throw new SandboxDatabaseError(`refusing to drop ${name}: not a sandbox database`);
  }
  url.pathname = '/postgres';
  await withClient(url.toString(), (client) =>
    client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  );
}

function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
