/** The wire view of stored assignments: their state, counters and failure list. */
import type { AgentAssignmentState, Assignment } from '../../api/agent.ts';
import { decodeReason, type ObjectSkippedReason, type Task } from '../../api/common.ts';
import type { Logger } from '../../log/index.ts';
import { type AssignmentRow, type RawTask, taskOf } from './rows.ts';
import type { Statements } from './statements.ts';

/** An assignment as GET reports it; `failedTasks` is read only when complete with failures. */
export function describeAssignment(row: AssignmentRow, failedTasks: () => Task[]): Assignment {
  let state: AgentAssignmentState;
  if (row.state === 'scheduled') state = 'Scheduled';
  else if (row.state === 'running') state = 'Running';
  else if (row.failed === 0) state = { Complete: null };
  else state = { Complete: failedTasks() };
  return {
    uuid: row.uuid,
    stats: { state, failed: row.failed, complete: row.complete, total: row.total },
  };
}

/**
 * The failed tasks of an assignment in completion order, one page per step. Each page is
 * a finished query, so other statements may run between steps (a response streams it).
 */
export function* failedTaskPages(
  stmts: Statements,
  log: Logger,
  seq: number,
  pageSize: number,
): Generator<Task[]> {
  let after = 0;
  for (;;) {
    const rows = stmts.failedPage.all(seq, after, pageSize) as (RawTask & {
      done_seq: number;
    })[];
    if (rows.length === 0) return;
    after = rows[rows.length - 1]!.done_seq;
    yield rows.map((r) => taskOf(r, { Failed: reasonOf(log, seq, r) }));
  }
}

function reasonOf(log: Logger, seq: number, r: RawTask): ObjectSkippedReason {
  const raw = r.reason == null ? null : r.reason.toString();
  let reason: ObjectSkippedReason | undefined;
  try {
    reason = raw === null ? undefined : decodeReason(JSON.parse(raw));
  } catch {
    reason = undefined;
  }
  if (reason === undefined) {
    // CRIT-6: never silently relabel. Log the raw value; still report a failure.
    log.error({ seq, idx: r.idx, raw }, 'unreadable failure reason; reporting AgentFSError');
    return 'AgentFSError';
  }
  return reason;
}
