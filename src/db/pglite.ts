import { type Extensions, PGlite, types } from '@electric-sql/pglite';
import { toDatabaseError } from './errors.ts';
import {
  type Database,
  DEFAULT_STREAM_BATCH,
  type Queryable,
  type QueryResult,
  type Row,
  type StreamOptions,
  type TransactionOptions,
} from './types.ts';

interface PgliteQueryTarget {
  query<T>(
    text: string,
    params?: unknown[],
  ): Promise<{
    rows: T[];
    affectedRows?: number;
    fields: { name: string; dataTypeID: number }[];
  }>;
}

async function run<R extends Row>(
  target: PgliteQueryTarget,
  text: string,
  params?: readonly unknown[],
): Promise<QueryResult<R>> {
  try {
    const result = await target.query<R>(text, params ? [...params] : undefined);
    return {
      rows: result.rows,
      // node-postgres counts the rows a SELECT returned; PGlite reports only affected rows.
      rowCount: result.affectedRows || result.rows.length,
      fields: result.fields,
    };
  } catch (err) {
    throw toDatabaseError(err, text);
  }
}

let cursorCounter = 0;

/**
 * An embedded PostgreSQL (PGlite). It has a single connection: transactions serialize, and a
 * stream uses a WITH HOLD cursor so other queries can run between its fetches.
 */
export class PgliteDatabase implements Database {
  readonly kind = 'pglite';
  readonly #db: PGlite;

  private constructor(db: PGlite) {
    this.#db = db;
  }

  /** `extensions`: PGlite contrib modules to load (e.g. hstore), for CREATE EXTENSION. */
  static async open(
    dataDir?: string,
    options: { extensions?: Extensions } = {},
  ): Promise<PgliteDatabase> {
    // int8 as a string, as node-postgres returns it: ids can exceed 2^53.
    const parsers = { [types.INT8]: (value: string) => value };
    const extensions = options.extensions ?? {};
    const db = new PGlite(
      dataDir === undefined ? { parsers, extensions } : { dataDir, parsers, extensions },
    );
    await db.waitReady;
    return new PgliteDatabase(db);
  }

  query<R extends Row = Row>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
    return run<R>(this.#db, text, params);
  }

  async exec(script: string): Promise<void> {
    try {
      await this.#db.exec(script);
    } catch (err) {
      throw toDatabaseError(err, script);
    }
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: TransactionOptions): Promise<T> {
    return this.#db.transaction(async (pgliteTx) => {
      if (options?.isolation) {
        await run(pgliteTx, `SET TRANSACTION ISOLATION LEVEL ${options.isolation.toUpperCase()}`);
      }
      return fn({ query: (text, params) => run(pgliteTx, text, params) });
    });
  }

  async *stream<R extends Row = Row>(
    text: string,
    params?: readonly unknown[],
    options?: StreamOptions,
  ): AsyncIterable<R> {
    const batch = options?.batchSize ?? DEFAULT_STREAM_BATCH;
    const cursor = `rebalancer_cursor_${++cursorCounter}`;
    await run(this.#db, `DECLARE ${cursor} NO SCROLL CURSOR WITH HOLD FOR ${text}`, params);
    try {
      for (;;) {
        const { rows } = await run<R>(this.#db, `FETCH ${batch} FROM ${cursor}`);
        for (const row of rows) yield row;
        if (rows.length < batch) break;
      }
    } finally {
      await run(this.#db, `CLOSE ${cursor}`);
    }
  }

  async close(): Promise<void> {
    await this.#db.close();
  }
}
