/**
 * Moray client for one shard (spec/protocols.md §2): typed RPCs with the wire names, argument
 * orders and options of node-moray, over a small pool of Fast connections.
 */
import type { FastRequestOptions, FastVersion } from '../fast/index.ts';
import { createLogger, type Logger } from '../log/index.ts';
import { MorayProtocolError, toMorayError } from './errors.ts';
import type { Filter } from './filter.ts';
import { type ObjectOptions, objectOptions, plainOptions, type RequestOptions } from './options.ts';
import { ConnectionPool } from './pool.ts';
import {
  type BatchResult,
  type BucketConfig,
  type BucketIndex,
  batchResult,
  countResult,
  etagResult,
  type MorayObject,
  morayObject,
  parseBucketRow,
  type UpdateResult,
  updateResult,
  versionResult,
} from './records.ts';

export interface MorayClientOptions {
  host: string;
  port: number;
  /** Fast connections to the shard; default 2. */
  connections?: number;
  /** Requests in flight over all connections; more wait in a queue. Default 64. */
  maxInFlight?: number;
  connectTimeoutMs?: number;
  /** Default client-side timeout of every RPC (ms); default none (as node-moray). */
  requestTimeoutMs?: number;
  /** Interval of the `ping` health check of each connection (ms); 0 disables. Default 10 s. */
  healthCheckIntervalMs?: number;
  /** Default 1 s (node-moray's ping timeout). */
  healthCheckTimeoutMs?: number;
  reconnect?: { minDelayMs: number; maxDelayMs: number };
  maxMessageSize?: number;
  /** Fast version of the requests; default 2. */
  version?: FastVersion;
  log?: Logger;
}

export interface SortSpec {
  attribute: string;
  order?: 'ASC' | 'DESC' | 'asc' | 'desc';
}

export interface FindOptions extends RequestOptions {
  /** Default 1000 on the server; 0 also means 1000 unless `noLimit`. */
  limit?: number;
  offset?: number;
  /** There is no default order: pass `{attribute: '_id', order: 'ASC'}` for stable paging. */
  sort?: SortSpec | SortSpec[];
  no_count?: boolean;
  noLimit?: boolean;
  requireIndexes?: boolean;
  requireOnlineReindexing?: boolean;
}

export type BatchOperation =
  | {
      operation?: 'put';
      bucket: string;
      key: string;
      value: Record<string, unknown>;
      options?: ObjectOptions;
    }
  | { operation: 'delete'; bucket: string; key: string; options?: ObjectOptions }
  | {
      operation: 'update';
      bucket: string;
      fields: Record<string, unknown>;
      filter: string | Filter;
      options?: RequestOptions;
    }
  | { operation: 'deleteMany'; bucket: string; filter: string | Filter; options?: RequestOptions };

export interface BucketDefinition {
  index: Record<string, BucketIndex>;
  pre?: string[];
  post?: string[];
  options?: Record<string, unknown>;
}

export class MorayClient {
  /** `host:port` of the shard, carried by every error. */
  readonly shard: string;
  private readonly pool: ConnectionPool;
  private readonly requestTimeoutMs: number | undefined;

  constructor(opts: MorayClientOptions) {
    this.shard = `${opts.host}:${opts.port}`;
    const log = (opts.log ?? createLogger({ name: 'moray' })).child({ shard: this.shard });
    this.requestTimeoutMs = opts.requestTimeoutMs;
    this.pool = new ConnectionPool({
      fast: {
        host: opts.host,
        port: opts.port,
        version: opts.version,
        connectTimeoutMs: opts.connectTimeoutMs,
        maxMessageSize: opts.maxMessageSize,
        reconnect: opts.reconnect,
        log,
      },
      connections: opts.connections ?? 2,
      maxInFlight: opts.maxInFlight ?? 64,
      healthCheckIntervalMs: opts.healthCheckIntervalMs ?? 10_000,
      healthCheckTimeoutMs: opts.healthCheckTimeoutMs ?? 1000,
      log,
    });
  }

  /** Requests running now / waiting for the in-flight bound / connections up. */
  get stats(): { active: number; queued: number; connected: number } {
    return {
      active: this.pool.active,
      queued: this.pool.queued,
      connected: this.pool.connectedCount,
    };
  }

  /** Connects the pool (optional: requests connect on demand). */
  async connect(): Promise<void> {
    try {
      await this.pool.connect();
    } catch (err) {
      throw toMorayError(err, 'connect', this.shard);
    }
  }

  /** Runs the pool's health check now (it also runs on its interval). */
  healthCheck(): Promise<void> {
    return this.pool.healthCheck();
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  async getObject(bucket: string, key: string, opts: ObjectOptions = {}): Promise<MorayObject> {
    const records = await this.collect('getObject', [bucket, key, objectOptions(opts)], opts);
    const found = records.filter((r) => !isHandledOptions(r));
    if (found.length !== 1) {
      throw this.protocolError('getObject', 'd', `expected 1 record, got ${found.length}`);
    }
    return morayObject.check(found[0], 'getObject', this.shard);
  }

  /** Writes an object; `etag: null` = must not exist, a string = must have that etag. */
  async putObject(
    bucket: string,
    key: string,
    value: Record<string, unknown>,
    opts: ObjectOptions = {},
  ): Promise<{ etag: string }> {
    const options = { ...objectOptions(opts), _value: JSON.stringify(value) };
    const out = await this.one('putObject', [bucket, key, value, options], opts);
    return { etag: etagResult.check(out, 'putObject', this.shard).etag };
  }

  /** Deletes an object; a truthy `etag` makes it conditional (null is ignored by Moray). */
  async delObject(bucket: string, key: string, opts: ObjectOptions = {}): Promise<void> {
    await this.collect('delObject', [bucket, key, objectOptions(opts)], opts, true);
  }

  /** Streams the matching records (one DATA frame each). */
  async *findObjects(
    bucket: string,
    filter: string | Filter,
    opts: FindOptions = {},
  ): AsyncGenerator<MorayObject, void, undefined> {
    const options: Record<string, unknown> = {
      ...objectOptions(opts),
      requireIndexes: opts.requireIndexes ?? false,
      requireOnlineReindexing: opts.requireOnlineReindexing ?? false,
    };
    if (opts.requireIndexes || opts.requireOnlineReindexing) {
      options.internalOpts = { sendHandledOptions: true };
    }
    for await (const record of this.stream(
      'findObjects',
      [bucket, String(filter), options],
      opts,
    )) {
      if (isHandledOptions(record)) continue;
      yield morayObject.check(record, 'findObjects', this.shard);
    }
  }

  /** Runs the operations in order in one transaction; all or nothing. */
  async batch(requests: BatchOperation[], opts: RequestOptions = {}): Promise<BatchResult> {
    const ops = requests.map((r) => {
      switch (r.operation) {
        case 'delete':
          return {
            operation: 'delete',
            bucket: r.bucket,
            key: r.key,
            options: objectOptions(r.options),
          };
        case 'update':
          return {
            operation: 'update',
            bucket: r.bucket,
            fields: r.fields,
            filter: String(r.filter),
            options: plainOptions(r.options),
          };
        case 'deleteMany':
          return {
            operation: 'deleteMany',
            bucket: r.bucket,
            filter: String(r.filter),
            options: plainOptions(r.options),
          };
        default:
          return {
            operation: 'put',
            bucket: r.bucket,
            options: objectOptions(r.options),
            key: r.key,
            value: r.value,
          };
      }
    });
    const out = await this.one('batch', [ops, plainOptions(opts)], opts);
    return batchResult.check(out, 'batch', this.shard);
  }

  /** Sets indexed `fields` on every object matching `filter` (the JSON value is not changed). */
  async updateObjects(
    bucket: string,
    fields: Record<string, unknown>,
    filter: string | Filter,
    opts: FindOptions = {},
  ): Promise<UpdateResult> {
    const out = await this.one(
      'updateObjects',
      [bucket, fields, String(filter), objectOptions(opts)],
      opts,
    );
    return updateResult.check(out, 'updateObjects', this.shard);
  }

  async deleteMany(
    bucket: string,
    filter: string | Filter,
    opts: FindOptions = {},
  ): Promise<{ count: number }> {
    const out = await this.one('deleteMany', [bucket, String(filter), objectOptions(opts)], opts);
    return countResult.check(out, 'deleteMany', this.shard);
  }

  /** Note the wire order: `[options, bucket]` (§2.11). */
  async getBucket(bucket: string, opts: RequestOptions = {}): Promise<BucketConfig> {
    const out = await this.one('getBucket', [plainOptions(opts), bucket], opts);
    return parseBucketRow(out, 'getBucket', this.shard);
  }

  async listBuckets(opts: RequestOptions = {}): Promise<BucketConfig[]> {
    const rows = await this.collect('listBuckets', [plainOptions(opts)], opts);
    return rows.map((row) => parseBucketRow(row, 'listBuckets', this.shard));
  }

  async createBucket(
    bucket: string,
    config: BucketDefinition,
    opts: RequestOptions = {},
  ): Promise<void> {
    await this.collect(
      'createBucket',
      [bucket, bucketConfig(config), plainOptions(opts)],
      opts,
      true,
    );
  }

  async updateBucket(
    bucket: string,
    config: BucketDefinition,
    opts: RequestOptions = {},
  ): Promise<void> {
    await this.collect(
      'updateBucket',
      [bucket, bucketConfig(config), plainOptions(opts)],
      opts,
      true,
    );
  }

  async delBucket(bucket: string, opts: RequestOptions = {}): Promise<void> {
    await this.collect('delBucket', [bucket, plainOptions(opts)], opts, true);
  }

  /** Streams raw rows (BIGINT as strings, lower-case column names, §2.13). */
  sql(
    statement: string,
    values: readonly unknown[] = [],
    opts: RequestOptions = {},
  ): AsyncIterable<unknown> {
    return this.stream('sql', [statement, [...values], plainOptions(opts)], opts, true);
  }

  /** `deep` also makes the shard query its database. Default timeout 1 s, as node-moray. */
  async ping(opts: { deep?: boolean } & RequestOptions = {}): Promise<void> {
    const { deep = false, ...rest } = opts;
    const options = { deep, ...plainOptions(rest) };
    await this.collect('ping', [options], { timeoutMs: 1000, ...rest });
  }

  /** The shard's Moray API version (2 for current servers). Default timeout 20 s. */
  async version(opts: RequestOptions = {}): Promise<number> {
    const out = await this.one('version', [plainOptions(opts)], { timeoutMs: 20_000, ...opts });
    return versionResult.check(out, 'version', this.shard).version;
  }

  private async *stream(
    method: string,
    args: unknown[],
    opts: RequestOptions,
    ignoreNullValues = false,
  ): AsyncGenerator<unknown, void, undefined> {
    let release: (() => void) | undefined;
    try {
      release = await this.pool.acquire();
      const request: FastRequestOptions = { ignoreNullValues };
      const timeoutMs = opts.timeoutMs ?? this.requestTimeoutMs;
      if (timeoutMs !== undefined) request.timeoutMs = timeoutMs;
      yield* this.pool.request(method, args, request);
    } catch (err) {
      throw toMorayError(err, method, this.shard);
    } finally {
      release?.();
    }
  }

  private async collect(
    method: string,
    args: unknown[],
    opts: RequestOptions,
    ignoreNullValues = false,
  ): Promise<unknown[]> {
    const out: unknown[] = [];
    for await (const v of this.stream(method, args, opts, ignoreNullValues)) out.push(v);
    return out;
  }

  /** RPCs that answer with exactly one summary record. */
  private async one(method: string, args: unknown[], opts: RequestOptions): Promise<unknown> {
    const out = await this.collect(method, args, opts);
    if (out.length !== 1) {
      throw this.protocolError(method, 'd', `expected 1 record, got ${out.length}`);
    }
    return out[0];
  }

  private protocolError(method: string, field: string, detail: string): MorayProtocolError {
    return new MorayProtocolError({
      message: `${method}: ${detail}`,
      method,
      shard: this.shard,
      field,
    });
  }
}

function isHandledOptions(record: unknown): boolean {
  return typeof record === 'object' && record !== null && '_handledOptions' in record;
}

function bucketConfig(config: BucketDefinition): Record<string, unknown> {
  return {
    index: config.index,
    pre: config.pre ?? [],
    post: config.post ?? [],
    options: config.options ?? {},
  };
}
