/**
 * buckets-mdapi client for one shard (peers.md §3.3): typed RPCs with the server's payload
 * and reply shapes over a small pool of Fast connections. Application errors (the wrapped
 * DATA form) become typed errors; what is retryable (a transport failure, an overloaded
 * server) is retried with exponential backoff, a precondition failure or a missing object
 * never is. The `mdapi` config keys (manager.md §6.4) map onto the options one to one.
 */
import { randomUUID } from 'node:crypto';
import { backoff, RetriesExhaustedError, retry } from '../async/index.ts';
import type { FastVersion } from '../fast/index.ts';
import { createLogger, type Logger } from '../log/index.ts';
import { type BatchUpdateResult, batchUpdate } from './batch.ts';
import {
  isRetryableMdapiError,
  MdapiError,
  MdapiUnsupportedError,
  serverError,
  toMdapiError,
  wrappedError,
} from './errors.ts';
import { MdapiPool } from './pool.ts';
import { replyReader } from './reply.ts';
import {
  Bucket,
  type BucketKeyPayload,
  type CreateObjectPayload,
  type DeletedObject,
  DeleteObjectReply,
  ListOwnersReply,
  ListVnodesReply,
  MAX_BATCH_OBJECTS,
  MAX_LIST_LIMIT,
  type MdapiPayload,
  type ObjectKeyPayload,
  ObjectResponse,
  type UpdateObjectPayload,
} from './schemas.ts';

export interface MdapiClientOptions {
  host: string;
  port: number;
  /** Fast connections to the shard; default 4 (as L's client). */
  connections?: number;
  /** Requests in flight over all connections; more wait. Default 64. */
  maxInFlight?: number;
  /** `connection_timeout_ms`; default 5000. */
  connectTimeoutMs?: number;
  /** `operation_timeout_ms`: longest wait for a reply; default 30000. */
  operationTimeoutMs?: number;
  /** `max_batch_size`: objects per `batchupdateobjects`, 1..1000; default 100. */
  maxBatchSize?: number;
  /** `max_retries`: retries after the first attempt; default 3 (0: none). */
  maxRetries?: number;
  /** `initial_backoff_ms`; default 100. */
  initialBackoffMs?: number;
  /** `max_backoff_ms`; default 5000. */
  maxBackoffMs?: number;
  reconnect?: { minDelayMs: number; maxDelayMs: number };
  /** Fast version of the requests; default 2. */
  version?: FastVersion;
  log?: Logger;
}

export interface MdapiRequestOptions {
  signal?: AbortSignal;
  /** Overrides `operationTimeoutMs`. */
  timeoutMs?: number;
}

export type ListObjectsArgs = {
  owner: string;
  bucket_id: string;
  vnode: number;
  /** 1..1024. */
  limit: number;
  prefix?: string;
  /** Objects whose name sorts after this one. */
  marker?: string;
};

export type ListBucketsArgs = {
  owner: string;
  vnode: number;
  limit: number;
  prefix?: string;
  marker?: string;
};

const objectReply = replyReader(ObjectResponse, 'object');
const bucketReply = replyReader(Bucket, 'bucket');
const deleteReply = replyReader(DeleteObjectReply, 'deleteobject reply');
const vnodesReply = replyReader(ListVnodesReply, 'listvnodes reply');
const ownersReply = replyReader(ListOwnersReply, 'listowners reply');

export class MdapiClient {
  /** `host:port` of the shard, carried by every error. */
  readonly shard: string;
  readonly maxBatchSize: number;
  private readonly pool: MdapiPool;
  private readonly operationTimeoutMs: number;
  private readonly attempts: number;
  private readonly delay: (attempt: number) => number;
  private readonly log: Logger;

  constructor(opts: MdapiClientOptions) {
    this.shard = `${opts.host}:${opts.port}`;
    this.log = (opts.log ?? createLogger({ name: 'mdapi' })).child({ mdapi: this.shard });
    this.maxBatchSize = opts.maxBatchSize ?? 100;
    if (
      !Number.isInteger(this.maxBatchSize) ||
      this.maxBatchSize < 1 ||
      this.maxBatchSize > MAX_BATCH_OBJECTS
    ) {
      throw new RangeError(`maxBatchSize must be 1..${MAX_BATCH_OBJECTS}: ${this.maxBatchSize}`);
    }
    const maxRetries = opts.maxRetries ?? 3;
    if (!Number.isInteger(maxRetries) || maxRetries < 0) {
      throw new RangeError(`maxRetries must be a non-negative integer: ${maxRetries}`);
    }
    this.attempts = maxRetries + 1;
    this.delay = backoff({
      initialMs: opts.initialBackoffMs ?? 100,
      maxMs: opts.maxBackoffMs ?? 5000,
      jitter: 0.2,
    });
    this.operationTimeoutMs = opts.operationTimeoutMs ?? 30_000;
    this.pool = new MdapiPool({
      fast: {
        host: opts.host,
        port: opts.port,
        version: opts.version,
        connectTimeoutMs: opts.connectTimeoutMs ?? 5000,
        ...(opts.reconnect === undefined ? {} : { reconnect: opts.reconnect }),
        log: this.log,
      },
      connections: opts.connections ?? 4,
      maxInFlight: opts.maxInFlight ?? 64,
      log: this.log,
    });
  }

  /** Connects the pool (optional: requests connect on demand). */
  async connect(): Promise<void> {
    try {
      await this.pool.connect();
    } catch (err) {
      throw toMdapiError(err, 'connect', this.shard);
    }
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  /** True for the error of an RPC the server does not implement (e.g. `listvnodes`). */
  isUnsupported(err: unknown): boolean {
    return err instanceof MdapiUnsupportedError;
  }

  async getObject(
    payload: MdapiPayload<ObjectKeyPayload>,
    opts: MdapiRequestOptions = {},
  ): Promise<ObjectResponse> {
    return objectReply.one(await this.rpc('getobject', payload, opts), 'getobject', this.shard);
  }

  /** Rewrites the object's content type, headers, properties and (when given) sharks. */
  async updateObject(
    payload: MdapiPayload<UpdateObjectPayload>,
    opts: MdapiRequestOptions = {},
  ): Promise<ObjectResponse> {
    const values = await this.rpc('updateobject', payload, opts);
    return objectReply.one(values, 'updateobject', this.shard);
  }

  async createObject(
    payload: MdapiPayload<CreateObjectPayload>,
    opts: MdapiRequestOptions = {},
  ): Promise<ObjectResponse> {
    const values = await this.rpc('createobject', payload, opts);
    return objectReply.one(values, 'createobject', this.shard);
  }

  async deleteObject(
    payload: MdapiPayload<ObjectKeyPayload>,
    opts: MdapiRequestOptions = {},
  ): Promise<DeletedObject[]> {
    const values = await this.rpc('deleteobject', payload, opts);
    return deleteReply.one(values, 'deleteobject', this.shard);
  }

  /**
   * Updates `objects` with `batchupdateobjects`, in chunks of `maxBatchSize`. The server
   * commits or rolls back each vnode of a chunk as a whole; the result lists the vnodes
   * that failed, with their objects and typed error (everything else was applied). Throws
   * MdapiUnsupportedError when the server has no batch RPC (then update one by one).
   */
  batchUpdateObjects(
    objects: readonly MdapiPayload<UpdateObjectPayload>[],
    opts: MdapiRequestOptions = {},
  ): Promise<BatchUpdateResult> {
    const send = (chunk: readonly UpdateObjectPayload[]) =>
      this.rpc('batchupdateobjects', { objects: chunk }, opts);
    return batchUpdate(objects, this.maxBatchSize, send, this.shard);
  }

  /** One page: objects of the bucket in the vnode, by name, after `marker`. */
  async listObjects(
    args: ListObjectsArgs,
    opts: MdapiRequestOptions = {},
  ): Promise<ObjectResponse[]> {
    checkLimit(args.limit);
    const values = await this.rpc('listobjects', args, opts);
    return objectReply.each(values, 'listobjects', this.shard);
  }

  /** Every object of the bucket in the vnode (from `marker`), page by page. */
  async *listAllObjects(
    args: Omit<ListObjectsArgs, 'limit'> & { pageSize?: number },
    opts: MdapiRequestOptions = {},
  ): AsyncGenerator<ObjectResponse, void, undefined> {
    const { pageSize = MAX_LIST_LIMIT, ...rest } = args;
    let marker = rest.marker;
    for (;;) {
      const page = await this.listObjects(
        { ...rest, limit: pageSize, ...(marker === undefined ? {} : { marker }) },
        opts,
      );
      yield* page;
      if (page.length < pageSize) return;
      marker = (page[page.length - 1] as ObjectResponse).name;
    }
  }

  async createBucket(
    payload: MdapiPayload<BucketKeyPayload>,
    opts: MdapiRequestOptions = {},
  ): Promise<Bucket> {
    return bucketReply.one(
      await this.rpc('createbucket', payload, opts),
      'createbucket',
      this.shard,
    );
  }

  async getBucket(
    payload: MdapiPayload<BucketKeyPayload>,
    opts: MdapiRequestOptions = {},
  ): Promise<Bucket> {
    return bucketReply.one(await this.rpc('getbucket', payload, opts), 'getbucket', this.shard);
  }

  /** One page of the owner's buckets in the vnode, by name, after `marker`. */
  async listBuckets(args: ListBucketsArgs, opts: MdapiRequestOptions = {}): Promise<Bucket[]> {
    checkLimit(args.limit);
    return bucketReply.each(await this.rpc('listbuckets', args, opts), 'listbuckets', this.shard);
  }

  /** The vnodes the shard hosts; MdapiUnsupportedError from a real buckets-mdapi. */
  async listVnodes(opts: MdapiRequestOptions = {}): Promise<number[]> {
    const values = await this.rpc('listvnodes', {}, opts);
    return vnodesReply.one(values, 'listvnodes', this.shard).vnodes;
  }

  /** The owners with buckets in the vnode; MdapiUnsupportedError from a real buckets-mdapi. */
  async listOwners(vnode: number, opts: MdapiRequestOptions = {}): Promise<string[]> {
    const values = await this.rpc('listowners', { vnode }, opts);
    return ownersReply.one(values, 'listowners', this.shard).owners;
  }

  /**
   * Sends `payload` (with a request id, the same on every attempt) and returns the reply's
   * values, retrying what is retryable. Wrapped errors are read here too, so an overloaded
   * server is retried; the caller's reader sees only replies that are not errors.
   */
  private async rpc(
    method: string,
    payload: Record<string, unknown>,
    opts: MdapiRequestOptions,
  ): Promise<unknown[]> {
    const body = { ...payload, request_id: payload.request_id ?? randomUUID() };
    const timeoutMs = opts.timeoutMs ?? this.operationTimeoutMs;
    try {
      return await retry(
        async () => {
          try {
            const values = await this.pool.call(method, [body], {
              timeoutMs,
              ...(opts.signal ? { signal: opts.signal } : {}),
            });
            for (const value of values) throwIfOverloaded(value, method, this.shard);
            return values;
          } catch (err) {
            throw toMdapiError(err, method, this.shard);
          }
        },
        {
          attempts: this.attempts,
          delay: this.delay,
          retryable: isRetryableMdapiError,
          ...(opts.signal ? { signal: opts.signal } : {}),
          onRetry: (err, attempt, delayMs) =>
            this.log.warn({ err, method, attempt, delayMs }, 'mdapi request failed: retrying'),
        },
      );
    } catch (err) {
      if (!(err instanceof RetriesExhaustedError)) throw err;
      const last = err.lastError;
      if (last instanceof MdapiError) last.attempts = err.attempts;
      throw last;
    }
  }
}

function throwIfOverloaded(value: unknown, method: string, shard: string): void {
  const error = wrappedError(value);
  if (error?.name === 'OverloadedError')
    throw serverError(error.name, error.message, { method, shard });
}

function checkLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
    throw new RangeError(`a list limit is 1..${MAX_LIST_LIMIT}: ${limit}`);
  }
}
