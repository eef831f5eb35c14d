export type Row = Record<string, unknown>;

export interface QueryResult<R extends Row = Row> {
  rows: R[];
  rowCount: number;
  fields: { name: string; dataTypeID: number }[];
}

export interface QueryOptions {
  /**
   * Prepares the statement under this name on each pooled connection the first time it runs
   * there, and reuses the plan afterwards (PostgreSQL; PGlite ignores it). Only for a fixed set
   * of hot statements: one name must always carry the same text, and each name stays prepared
   * for the connection's life.
   */
  name?: string;
}

export interface Queryable {
  query<R extends Row = Row>(
    text: string,
    params?: readonly unknown[],
    options?: QueryOptions,
  ): Promise<QueryResult<R>>;
}

export type IsolationLevel = 'read committed' | 'repeatable read' | 'serializable';

export interface TransactionOptions {
  isolation?: IsolationLevel;
}

export interface StreamOptions {
  /** Rows fetched from the server per round trip. */
  batchSize?: number;
}

/**
 * The one database interface of the project: real PostgreSQL through a `pg` pool, or an embedded
 * PGlite. Both parse types as node-postgres does by default: int8 and numeric as strings, int4 as
 * numbers, timestamptz as Date, json/jsonb parsed.
 */
export interface Database extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /** Runs a script of several statements (no parameters), e.g. a migration. */
  exec(script: string): Promise<void>;
  transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /** Streams a query's rows through a server-side cursor, so memory stays bounded. */
  stream<R extends Row = Row>(
    text: string,
    params?: readonly unknown[],
    options?: StreamOptions,
  ): AsyncIterable<R>;
  close(): Promise<void>;
}

export const DEFAULT_STREAM_BATCH = 1000;
