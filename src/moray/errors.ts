/**
 * Typed Moray errors (spec/protocols.md §2.14). Every error names the RPC method and the shard
 * (`host:port`); server errors keep Moray's name, message, context and info verbatim.
 */

import { RebalancerError } from '../errors.ts';
import {
  FastConnectionError,
  FastProtocolError,
  FastServerError,
  FastTimeoutError,
} from '../fast/index.ts';

export interface MorayErrorOptions {
  name: string;
  message: string;
  method: string;
  shard: string;
  context?: Record<string, unknown>;
  info?: Record<string, unknown>;
  cause?: unknown;
}

/** Any failed Moray RPC; `name` is the server's error name (e.g. `InvocationError`). */
export class MorayError extends RebalancerError {
  override name: string;
  readonly code: string = 'moray_error';
  readonly method: string;
  readonly shard: string;
  readonly context: Record<string, unknown>;
  readonly info: Record<string, unknown>;

  constructor(opts: MorayErrorOptions) {
    super(opts.message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = opts.name;
    this.method = opts.method;
    this.shard = opts.shard;
    this.context = opts.context ?? {};
    this.info = opts.info ?? {};
  }
}

/** A conditional write found another etag (§2.8): the object changed or (dis)appeared. */
export class EtagConflictError extends MorayError {
  override readonly code = 'moray_etag_conflict';
  readonly bucket: string;
  readonly key: string;
  /** The etag the request required; `"null"` when it required absence. */
  readonly expected: string;
  /** The etag found; `"null"` when the object does not exist. */
  readonly actual: string;

  constructor(opts: MorayErrorOptions) {
    super(opts);
    const c = this.context;
    this.bucket = String(c.bucket ?? '');
    this.key = String(c.key ?? '');
    this.expected = String(c.expected ?? '');
    this.actual = String(c.actual ?? '');
  }
}

export class ObjectNotFoundError extends MorayError {
  override readonly code = 'moray_object_not_found';
}

export class BucketNotFoundError extends MorayError {
  override readonly code = 'moray_bucket_not_found';
}

/** The shard could not be reached, or the connection was lost mid-request. */
export class MorayConnectionError extends MorayError {
  override readonly code = 'moray_connection';
}

/** The client-side timeout of the request expired (the server may still run it). */
export class MorayTimeoutError extends MorayError {
  override readonly code = 'moray_timeout';
}

/** The server answered with something that is not what the RPC returns; `field` says what. */
export class MorayProtocolError extends MorayError {
  override readonly code = 'moray_protocol';
  readonly field: string;

  constructor(opts: Omit<MorayErrorOptions, 'name'> & { field: string }) {
    super({ ...opts, name: 'MorayProtocolError' });
    this.field = opts.field;
  }
}

/** Translates what the Fast layer threw into the Moray error types. */
export function toMorayError(err: unknown, method: string, shard: string): unknown {
  if (err instanceof MorayError) return err;
  if (err instanceof FastServerError) {
    const opts: MorayErrorOptions = {
      name: err.name,
      message: err.message,
      method,
      shard,
      context: err.context,
      info: err.info,
      cause: err,
    };
    switch (err.name) {
      case 'EtagConflictError':
        return new EtagConflictError(opts);
      case 'ObjectNotFoundError':
        return new ObjectNotFoundError(opts);
      case 'BucketNotFoundError':
        return new BucketNotFoundError(opts);
      default:
        return new MorayError(opts);
    }
  }
  if (err instanceof FastConnectionError) {
    const reason = err.cause instanceof FastProtocolError ? err.cause.info : {};
    return new MorayConnectionError({
      name: 'MorayConnectionError',
      message: err.message,
      method,
      shard,
      info: reason,
      cause: err,
    });
  }
  if (err instanceof FastTimeoutError) {
    return new MorayTimeoutError({
      name: 'MorayTimeoutError',
      message: err.message,
      method,
      shard,
      cause: err,
    });
  }
  if (err instanceof FastProtocolError) {
    return new MorayProtocolError({
      message: err.message,
      method,
      shard,
      field: 'd',
      info: err.info,
      cause: err,
    });
  }
  return err;
}
