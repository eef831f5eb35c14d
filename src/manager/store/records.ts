/**
 * The Manta records the store keeps (an object's, a duplicate's) as they come back from the
 * database: a boundary, so each is checked against MantaObjectValue (compiled once, a Check
 * per row; the error list only for a row that fails). An object recorded without a usable
 * record (a malformed one, or one excluded before its record was read) is stored as `{}`.
 */
import { RebalancerError } from '../../errors.ts';
import {
  isMantaObjectValue,
  type MantaObjectValue,
  mantaObjectProblem,
} from '../../manta/index.ts';

/** What the `object` column holds for an object recorded without a usable record. */
const NO_RECORD = '{}';

/** A stored record that must be an object's (one the job placed) and is not. */
export class StoredRecordError extends RebalancerError {
  override readonly name = 'StoredRecordError';
  readonly code = 'stored_record_invalid';
  constructor(
    /** The table and the object's id. */
    readonly where: string,
    readonly problem: string,
  ) {
    super(`stored record of ${where} is not a Manta object record: ${problem}`);
  }
}

/** The stored record, or undefined when the row holds none usable (see NO_RECORD). */
export function storedRecord(value: unknown): MantaObjectValue | undefined {
  return isMantaObjectValue(value) ? value : undefined;
}

/** The stored record of an object that was placed from it, so must have one. */
export function requiredRecord(value: unknown, where: string): MantaObjectValue {
  if (isMantaObjectValue(value)) return value;
  throw new StoredRecordError(where, mantaObjectProblem(value));
}

/** The `object` column's text for a record, or for none. */
export function recordText(value: MantaObjectValue | undefined): string {
  return value === undefined ? NO_RECORD : JSON.stringify(value);
}
