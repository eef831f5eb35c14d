import { RebalancerError } from '../errors.ts';

/** A Manta identifier (owner, object id, bucket id, name hash, storage id) that fails validation. */
export class InvalidMantaIdError extends RebalancerError {
  override readonly name = 'InvalidMantaIdError';
  readonly code = 'invalid_manta_id';
  constructor(
    /** Which identifier: 'owner', 'objectId', 'bucketId', 'objectNameHash', 'storageId', ... */
    readonly field: string,
    readonly value: unknown,
    readonly reason: string,
  ) {
    super(`invalid ${field} ${JSON.stringify(value)}: ${reason}`);
  }
}

/** A path that would resolve outside the object root it must live under. */
export class PathEscapesRootError extends RebalancerError {
  override readonly name = 'PathEscapesRootError';
  readonly code = 'path_escapes_root';
  constructor(
    readonly root: string,
    readonly path: string,
  ) {
    super(`path ${JSON.stringify(path)} escapes object root ${JSON.stringify(root)}`);
  }
}
