import type { Logger } from '../log/index.ts';
import { PgliteDatabase } from './pglite.ts';
import { PostgresDatabase } from './postgres.ts';
import type { Database } from './types.ts';

export { DatabaseError } from './errors.ts';
export type {
  Database,
  IsolationLevel,
  Queryable,
  QueryOptions,
  QueryResult,
  Row,
  StreamOptions,
  TransactionOptions,
} from './types.ts';
export { autovacuumOn, TableVacuumer, type TableVacuumerOptions } from './vacuum.ts';

export interface OpenDatabaseOptions {
  /** A PostgreSQL connection URL; without one, an embedded PGlite is used. */
  url?: string;
  /** PGlite's data directory; in memory when absent. Ignored with `url`. */
  dataDir?: string;
  poolSize?: number;
  log?: Logger;
}

/**
 * A PostgreSQL database that connects on first use (no check now): for servers that may be
 * down when the caller starts and are needed only later, such as discovery's pgclones.
 */
export function connectPostgres(
  url: string,
  options: { poolSize?: number; log?: Logger } = {},
): Database {
  return new PostgresDatabase(url, options);
}

/** Opens PostgreSQL when a URL is given, else the embedded PGlite, and checks it answers. */
export async function openDatabase(options: OpenDatabaseOptions = {}): Promise<Database> {
  if (options.url === undefined) return PgliteDatabase.open(options.dataDir);
  const db = new PostgresDatabase(options.url, options);
  try {
    await db.query('SELECT 1');
  } catch (err) {
    await db.close();
    throw err;
  }
  return db;
}
