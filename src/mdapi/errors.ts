/**
 * Typed errors of the buckets-mdapi client (peers.md §3.3, §3.6). buckets-mdapi answers an
 * application error as an ordinary DATA value `{"error": {"name", "message"}}` (a limit
 * violation of a list RPC as `{"LimitConstraintError": "<message>"}`), never as a Fast
 * ERROR; a Fast ERROR means the server could not run the method at all. Every error names
 * the RPC method and the shard (`host:port`); server errors keep the server's name and
 * message verbatim.
 */
import { Compile } from 'typebox/compile';
import { RebalancerError } from '../errors.ts';
import {
  FastConnectionError,
  FastProtocolError,
  FastServerError,
  FastTimeoutError,
} from '../fast/index.ts';
import { BareLimitError, WrappedError } from './schemas.ts';

export interface MdapiErrorOptions {
  method: string;
  shard: string;
  cause?: unknown;
}

/** Any failed buckets-mdapi RPC. */
export abstract class MdapiError extends RebalancerError {
  readonly code: string = 'mdapi_error';
  readonly method: string;
  readonly shard: string;
  /** Attempts made before giving up (more than 1 after retries). */
  attempts = 1;

  constructor(message: string, opts: MdapiErrorOptions) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.method = opts.method;
    this.shard = opts.shard;
  }
}

/** The server answered with an application error (the wrapped DATA form). */
export class MdapiServerError extends MdapiError {
  override readonly code: string = 'mdapi_server_error';
  /** buckets-mdapi's error name, e.g. `PostgresError`, `LimitConstraintError`. */
  readonly serverName: string;
  readonly serverMessage: string;

  constructor(serverName: string, serverMessage: string, opts: MdapiErrorOptions) {
    super(`${opts.method} on ${opts.shard}: ${serverName}: ${serverMessage}`, opts);
    this.serverName = serverName;
    this.serverMessage = serverMessage;
  }

  /**
   * The shard has no schema for the request's vnode: the request went to a shard that does
   * not host it (a real buckets-mdapi answers PostgreSQL's missing-relation error).
   */
  get missingVnodeSchema(): boolean {
    return (
      this.serverName === 'PostgresError' &&
      /relation "manta_bucket_\d+\.[a-z_]+" does not exist/.test(this.serverMessage)
    );
  }
}

/** `PreconditionFailedError`: the object no longer has the id (etag) the request required. */
export class MdapiEtagMismatchError extends MdapiServerError {
  override readonly code = 'mdapi_etag_mismatch';
}

/** `ObjectNotFound`: no such object (or, for an update, none with that id any more). */
export class MdapiObjectNotFoundError extends MdapiServerError {
  override readonly code = 'mdapi_object_not_found';
}

/** `OverloadedError`: the server found no free database connection in time; retryable. */
export class MdapiOverloadedError extends MdapiServerError {
  override readonly code = 'mdapi_overloaded';
}

/** The server does not implement the method (Fast ERROR "Unsupported functon: …"). */
export class MdapiUnsupportedError extends MdapiError {
  override readonly code = 'mdapi_unsupported';
}

/** The shard could not be reached, the connection was lost or a reply did not come in time. */
export class MdapiTransientError extends MdapiError {
  override readonly code = 'mdapi_transient';
}

/** A reply that is not what the RPC returns; `field` says what is wrong. */
export class MdapiProtocolError extends MdapiError {
  override readonly code = 'mdapi_protocol';
  constructor(
    message: string,
    readonly field: string,
    opts: MdapiErrorOptions,
  ) {
    super(`${opts.method} on ${opts.shard}: ${message}`, opts);
  }
}

/** What is worth another attempt: a transport failure or an overloaded server. */
export function isRetryableMdapiError(err: unknown): boolean {
  return err instanceof MdapiTransientError || err instanceof MdapiOverloadedError;
}

const wrapped = Compile(WrappedError);
const bareLimit = Compile(BareLimitError);

/** The server's `{name, message}` when `value` is an application error reply. */
export function wrappedError(value: unknown): { name: string; message: string } | undefined {
  if (wrapped.Check(value)) return value.error;
  if (bareLimit.Check(value)) {
    return { name: 'LimitConstraintError', message: value.LimitConstraintError };
  }
  return undefined;
}

/** The typed error of an application error reply. */
export function serverError(
  name: string,
  message: string,
  opts: MdapiErrorOptions,
): MdapiServerError {
  switch (name) {
    case 'PreconditionFailedError':
      return new MdapiEtagMismatchError(name, message, opts);
    case 'ObjectNotFound':
      return new MdapiObjectNotFoundError(name, message, opts);
    case 'OverloadedError':
      return new MdapiOverloadedError(name, message, opts);
    default:
      return new MdapiServerError(name, message, opts);
  }
}

const UNSUPPORTED_RE = /unsupported|not implemented/i;

/** Translates what the Fast layer threw into the mdapi error types. */
export function toMdapiError(err: unknown, method: string, shard: string): unknown {
  if (err instanceof MdapiError) return err;
  const opts = { method, shard, cause: err };
  if (err instanceof FastServerError) {
    if (UNSUPPORTED_RE.test(err.message)) {
      return new MdapiUnsupportedError(`${method} on ${shard}: ${err.message}`, opts);
    }
    return new MdapiServerError(err.name, err.message, opts);
  }
  // A connection error's message starts with the address already.
  if (err instanceof FastConnectionError) {
    return new MdapiTransientError(`${method}: ${err.message}`, opts);
  }
  if (err instanceof FastTimeoutError) {
    return new MdapiTransientError(`${method} on ${shard}: ${err.message}`, opts);
  }
  if (err instanceof FastProtocolError) {
    // Our own request too large to send is no transport failure: it would fail again.
    if (err.reason === 'message_too_large') {
      return new MdapiProtocolError(err.message, 'request', opts);
    }
    return new MdapiTransientError(`${method} on ${shard}: ${err.message}`, opts);
  }
  return err;
}
