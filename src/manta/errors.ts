/** A Manta identifier (owner, object id, bucket id, name hash, storage id) that fails validation. */
export class InvalidMantaIdError extends Error {
  override readonly name = 'InvalidMantaIdError';
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
export class PathEscapesRootError extends Error {
  override readonly name = 'PathEscapesRootError';
  constructor(
    readonly root: string,
    readonly path: string,
  ) {
    super(`path ${JSON.stringify(path)} escapes object root ${JSON.stringify(root)}`);
  }
}
