/**
 * How the stand-in fails, as buckets-mdapi does (peers.md §3.3): application errors are
 * DATA replies `{"error": {"name", "message"}}` (the list RPCs' limit error a bare
 * `{"LimitConstraintError": "..."}`), with the server's names and messages; a request the
 * server cannot decode or a method it lacks is a Fast ERROR named `FastError`.
 */
import { RebalancerError } from '../../errors.ts';
import { RpcError } from '../../fast/index.ts';

/** An application error, answered as a DATA value. */
export class MdapiAppError extends RebalancerError {
  readonly code = 'sandbox_mdapi_app_error';

  constructor(
    /** buckets-mdapi's name: `ObjectNotFound`, `PostgresError`, ... */
    readonly errorName: string,
    message: string,
    /** The list RPCs send their limit error as a bare enum variant. */
    readonly bare = false,
  ) {
    super(message);
  }

  /** The DATA value that carries the error. */
  toWire(): Record<string, unknown> {
    if (this.bare) return { [this.errorName]: this.message };
    return { error: { name: this.errorName, message: this.message } };
  }
}

export const objectNotFound = (): MdapiAppError =>
  new MdapiAppError('ObjectNotFound', 'requested object not found');

export const bucketNotFound = (): MdapiAppError =>
  new MdapiAppError('BucketNotFound', 'requested bucket not found');

export const bucketAlreadyExists = (): MdapiAppError =>
  new MdapiAppError('BucketAlreadyExists', 'requested bucket already exists');

export const preconditionFailed = (message: string): MdapiAppError =>
  new MdapiAppError('PreconditionFailedError', message);

/** No database connection could be claimed in time (the overload fault answers this). */
export const overloaded = (): MdapiAppError =>
  new MdapiAppError('OverloadedError', 'Unable to retrieve a connection within the claim timeout');

/** A PostgreSQL failure, worded as the server's driver prints it. */
export function postgresError(err: unknown): MdapiAppError {
  if (err instanceof MdapiAppError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new MdapiAppError('PostgresError', `db error: ERROR: ${message}`);
}

/**
 * What a real shard answers for a vnode whose schema it does not have: PostgreSQL's
 * missing-relation error for the table the RPC reads.
 */
export function missingVnode(vnode: number, table: string): MdapiAppError {
  return postgresError(new Error(`relation "manta_bucket_${vnode}.${table}" does not exist`));
}

/** A Fast ERROR as buckets-mdapi's Fast server sends it. */
export function fastError(message: string): RpcError {
  return new RpcError('FastError', message);
}

/** The reply to a method buckets-mdapi does not have (sic: "functon"). */
export function unsupported(method: string): RpcError {
  return fastError(`Unsupported functon: ${method}`);
}
