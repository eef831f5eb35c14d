/** The agent store's typed errors; each has a stable `code`. */
import { RebalancerError } from '../../errors.ts';

/** The assignment id is already stored (409). */
export class DuplicateAssignmentError extends RebalancerError {
  override readonly name = 'DuplicateAssignmentError';
  readonly code = 'duplicate_assignment';
  constructor(readonly uuid: string) {
    super(`assignment ${uuid} already exists`);
  }
}

/** An outcome recorded after the store closed, or still uncommitted when it closed. */
export class StoreClosedError extends RebalancerError {
  override readonly name = 'StoreClosedError';
  readonly code = 'store_closed';
}

/** A write that must change exactly one row changed none (MIN-2). */
export class StoreConsistencyError extends RebalancerError {
  override readonly name = 'StoreConsistencyError';
  readonly code = 'store_inconsistent';
}

/**
 * The database's schema version is one this agent does not know: a newer agent wrote it.
 * Opening it anyway could misread or damage its rows, so the agent refuses to start.
 */
export class SchemaVersionError extends RebalancerError {
  override readonly name = 'SchemaVersionError';
  readonly code = 'schema_too_new';
  constructor(
    readonly file: string,
    readonly found: number,
    readonly known: number,
  ) {
    super(
      `agent database ${file} has schema version ${found}, newer than the ${known} this agent ` +
        'knows: it was written by a newer agent; upgrade the agent or move the state directory',
    );
  }
}
