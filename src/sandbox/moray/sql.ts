/**
 * Moray's `sql` RPC (spec/protocols.md §2.13): the statement with its positional values, one raw
 * row per DATA frame. Read-only queries stream through a server-side cursor, so a scan of a big
 * table keeps memory bounded; other statements run in a transaction.
 */
import type { Database, Row } from '../../db/index.ts';
import type { Emit } from './objects.ts';
import { pgError } from './pg-errors.ts';

const BATCH = 1000;
/** Statements a cursor can carry: one query, no data-modifying CTE. */
const CURSOR_SAFE = /^\s*(SELECT|VALUES|TABLE)\b/i;

/** The statement without trailing semicolons; undefined if it holds several statements. */
function singleStatement(statement: string): string | undefined {
  const trimmed = statement.replace(/[\s;]+$/, '');
  return trimmed.includes(';') ? undefined : trimmed;
}

export async function runSql(
  db: Database,
  statement: string,
  values: readonly unknown[],
  emit: Emit,
  signal: AbortSignal,
): Promise<void> {
  const single = singleStatement(statement);
  try {
    if (single !== undefined && CURSOR_SAFE.test(single)) {
      for await (const row of db.stream<Row>(single, values, { batchSize: BATCH })) {
        if (signal.aborted) return;
        await emit(row);
      }
      return;
    }
    const rows = await db.transaction(async (tx) => (await tx.query(statement, values)).rows);
    for (const row of rows) {
      if (signal.aborted) return;
      await emit(row);
    }
  } catch (err) {
    throw pgError(err, statement);
  }
}
