/**
 * The database of a buckets-mdapi shard stand-in: a real PostgreSQL when a URL is given, else
 * an embedded PGlite with the hstore contrib module loaded (the layout needs hstore).
 */
import { hstore } from '@electric-sql/pglite/contrib/hstore';
import { type Database, openDatabase } from '../../db/index.ts';
import { PgliteDatabase } from '../../db/pglite.ts';
import type { Logger } from '../../log/index.ts';

export interface MdapiDatabaseOptions {
  /** A PostgreSQL URL; without one, PGlite. */
  url?: string;
  /** PGlite's data directory; in memory when absent. Ignored with `url`. */
  dataDir?: string;
  poolSize?: number;
  log?: Logger;
}

export function openMdapiDatabase(options: MdapiDatabaseOptions = {}): Promise<Database> {
  if (options.url !== undefined) return openDatabase(options);
  return PgliteDatabase.open(options.dataDir, { extensions: { hstore } });
}
