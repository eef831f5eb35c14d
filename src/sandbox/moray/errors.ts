/**
 * Moray's error replies (spec/protocols.md §2.14): the names, messages and contexts real Moray
 * sends, so clients that switch on `name` or parse `context` behave as against a real shard.
 */
import { RpcError } from '../../fast/index.ts';

export const bucketNotFound = (bucket: string): RpcError =>
  new RpcError('BucketNotFoundError', `${bucket} does not exist`);

export const bucketConflict = (bucket: string): RpcError =>
  new RpcError('BucketConflictError', `${bucket} was likely being concurrently updated`);

export const bucketVersion = (bucket: string, newVersion: number, oldVersion: number): RpcError =>
  new RpcError(
    'BucketVersionError',
    `${bucket} has a newer version than ${newVersion} (${oldVersion})`,
  );

export function etagConflict(
  bucket: string,
  key: string,
  expected: string,
  actual: string,
): RpcError {
  return new RpcError(
    'EtagConflictError',
    `${bucket}::${key} was expected to have etag "${expected}", but was "${actual}"`,
    { context: { bucket, key, expected, actual } },
  );
}

export const objectNotFound = (bucket: string, key: string): RpcError =>
  new RpcError('ObjectNotFoundError', `${bucket}::${key} does not exist`);

export const invalidQuery = (filter: string): RpcError =>
  new RpcError('InvalidQueryError', `${filter} is an invalid filter`);

export const notIndexed = (bucket: string, filter: string): RpcError =>
  new RpcError('NotIndexedError', `${bucket} does not have indexes that support ${filter}`);

export const invalidIndexType = (name: string, type: string): RpcError =>
  new RpcError('InvalidIndexTypeError', `index(${name}) is of type ${type}`);

export const uniqueAttribute = (attribute: string, value: string): RpcError =>
  new RpcError(
    'UniqueAttributeError',
    `"${attribute}" is a unique attribute; value "${value}" already exists`,
  );

export const fieldUpdate = (fields: unknown): RpcError =>
  new RpcError('FieldUpdateError', `${JSON.stringify(fields)} is not a valid update definition`);

export const notNullable = (name: string, type: string): RpcError =>
  new RpcError('NotNullableError', `index "${name}" (of type "${type}") cannot store null values`);

export const invalidBucketName = (name: string): RpcError =>
  new RpcError('InvalidBucketNameError', `${name} is not a valid bucket name`);

export const invalidBucketConfig = (text: string): RpcError =>
  new RpcError('InvalidBucketConfigError', text);

export const invocation = (message: string): RpcError => new RpcError('InvocationError', message);

export const queryTimeout = (sql: string): RpcError =>
  new RpcError('QueryTimeoutError', `query timeout: ${sql}`);

export const internal = (message: string): RpcError => new RpcError('InternalError', message);
