/**
 * Counts as they come back from the database: bigint and numeric columns (and sums of them)
 * arrive as decimal text, integer ones as numbers. A value that is not a whole, non-negative,
 * exactly representable number is an error, never a guess.
 */
import { UnknownStoredValueError } from './enums.ts';

export function storedCount(value: unknown, column: string): number {
  const n = typeof value === 'string' && /^[0-9]+$/.test(value) ? Number(value) : value;
  if (typeof n === 'number' && Number.isSafeInteger(n) && n >= 0) return n;
  throw new UnknownStoredValueError(column, value);
}
