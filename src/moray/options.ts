/**
 * The options objects node-moray sends (spec/protocols.md §2.3): a copy of the caller's options
 * plus `req_id` (a v4 UUID) and, for object RPCs, etag/headers/no_count/sql_only/noCache.
 */
import { randomUUID } from 'node:crypto';

/** Options every RPC accepts. */
export interface RequestOptions {
  /** Request id for the server's logs; a fresh v4 UUID when absent (must be UUID-shaped). */
  req_id?: string;
  /** Server-side PostgreSQL timeout in ms. */
  timeout?: number;
  /** Client-side timeout in ms: the request is abandoned locally (the server is not told). */
  timeoutMs?: number;
  /** Other members are passed to the server as they are. */
  [option: string]: unknown;
}

/** Options of conditional object writes. */
export interface ObjectOptions extends RequestOptions {
  /** A string: the object must have this etag. null: it must not exist. Absent: unconditional. */
  etag?: string | null;
  headers?: Record<string, unknown>;
}

/** Splits our client-only members off the options the server receives. */
function serverPart(opts: RequestOptions): Record<string, unknown> {
  const { timeoutMs: _local, ...rest } = opts;
  return structuredClone(rest);
}

/** node-moray `makeOptions` for object RPCs. */
export function objectOptions(opts: ObjectOptions = {}): Record<string, unknown> {
  const out = serverPart(opts);
  const etag = opts.etag !== undefined ? opts.etag : (opts._etag as string | null | undefined);
  delete out._etag;
  delete out.etag;
  return {
    ...out,
    req_id: opts.req_id ?? randomUUID(),
    ...(etag === undefined ? {} : { etag }),
    headers: opts.headers ?? {},
    no_count: opts.no_count ?? false,
    sql_only: opts.sql_only ?? false,
    noCache: opts.noCache ?? true,
  };
}

/** node-moray `makeBucketOptions` (bucket RPCs, batch, ping, version, sql). */
export function plainOptions(opts: RequestOptions = {}): Record<string, unknown> {
  const out = serverPart(opts);
  return { ...out, req_id: opts.req_id ?? randomUUID() };
}
