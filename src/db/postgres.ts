import pg from 'pg';
import type { Logger } from '../log/index.ts';
import { toDatabaseError } from './errors.ts';
import {
  type Database,
  DEFAULT_STREAM_BATCH,
  type Queryable,
  type QueryOptions,
  type QueryResult,
  type Row,
  type StreamOptions,
  type TransactionOptions,
} from './types.ts';

interface PgQueryTarget {
  query(text: string, params?: unknown[]): Promise<pg.QueryResult>;
  query(config: pg.QueryConfig): Promise<pg.QueryResult>;
}

async function run<R extends Row>(
  target: PgQueryTarget,
  text: string,
  params?: readonly unknown[],
  options?: QueryOptions,
): Promise<QueryResult<R>> {
  try {
    const values = params ? [...params] : undefined;
    const result =
      options?.name === undefined
        ? await target.query(text, values)
        : await target.query({ name: options.name, text, values });
    return {
      rows: result.rows as R[],
      rowCount: result.rowCount ?? 0,
      fields: result.fields.map((f) => ({ name: f.name, dataTypeID: f.dataTypeID })),
    };
  } catch (err) {
    throw toDatabaseError(err, text);
  }
}

function beginStatement(options?: TransactionOptions): string {
  return options?.isolation ? `BEGIN ISOLATION LEVEL ${options.isolation.toUpperCase()}` : 'BEGIN';
}

let cursorCounter = 0;

/** PostgreSQL through a `pg` connection pool. */
export class PostgresDatabase implements Database {
  readonly kind = 'postgres';
  readonly #pool: pg.Pool;

  constructor(url: string, options: { poolSize?: number; log?: Logger } = {}) {
    this.#pool = new pg.Pool({ connectionString: url, max: options.poolSize ?? 10 });
    // An idle client can fail (server restart); pg emits it here and would crash the process
    // without a listener. The pool discards that client, so logging is all that is left to do.
    this.#pool.on('error', (err) => {
      options.log?.warn({ err }, 'idle PostgreSQL connection failed');
    });
  }

  query<R extends Row = Row>(
    text: string,
    params?: readonly unknown[],
    options?: QueryOptions,
  ): Promise<QueryResult<R>> {
    return run<R>(this.#pool, text, params, options);
  }

  async exec(script: string): Promise<void> {
    // A multi-statement script returns one result per statement: nothing to map, only errors.
    try {
      await this.#pool.query(script);
    } catch (err) {
      throw toDatabaseError(err, script);
    }
  }

  async transaction<T>(
    fn: (tx: Queryable) => Promise<T>,
    options?: TransactionOptions,
  ): Promise<T> {
    const client = await this.#connect();
    let broken: Error | undefined;
    try {
      await run(client, beginStatement(options));
      const tx: Queryable = {
        query: (text, params, queryOptions) => run(client, text, params, queryOptions),
      };
      const result = await fn(tx);
      await run(client, 'COMMIT');
      return result;
    } catch (err) {
      await run(client, 'ROLLBACK').catch((rollbackErr: Error) => {
        // The connection is unusable; releasing it with an error makes the pool discard it.
        broken = rollbackErr;
      });
      throw err;
    } finally {
      client.release(broken);
    }
  }

  async *stream<R extends Row = Row>(
    text: string,
    params?: readonly unknown[],
    options?: StreamOptions,
  ): AsyncIterable<R> {
    const batch = options?.batchSize ?? DEFAULT_STREAM_BATCH;
    const cursor = `rebalancer_cursor_${++cursorCounter}`;
    const client = await this.#connect();
    let broken: Error | undefined;
    let finished = false;
    try {
      await run(client, 'BEGIN ISOLATION LEVEL REPEATABLE READ');
      await run(client, `DECLARE ${cursor} NO SCROLL CURSOR FOR ${text}`, params);
      for (;;) {
        const { rows } = await run<R>(client, `FETCH ${batch} FROM ${cursor}`);
        for (const row of rows) yield row;
        if (rows.length < batch) break;
      }
      await run(client, 'COMMIT');
      finished = true;
    } finally {
      if (!finished) {
        // Consumer stopped early or a query failed: end the transaction, which closes the cursor.
        await run(client, 'ROLLBACK').catch((err: Error) => {
          broken = err;
        });
      }
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }

  async #connect(): Promise<pg.PoolClient> {
    try {
      return await this.#pool.connect();
    } catch (err) {
      throw toDatabaseError(err, 'connect');
    }
  }
}
