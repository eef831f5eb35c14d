/**
 * The agent's durable state: one SQLite database (WAL, synchronous=FULL) holding every
 * assignment and its tasks. An assignment is committed before POST answers 200; each
 * task outcome and the completion are committed before GET can report them
 * (agent.md §4.8, fixes IMP-4/5/6 and MIN-2). Task outcomes are group-committed.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Assignment } from '../../api/agent.ts';
import type { ObjectSkippedReason, Task } from '../../api/common.ts';
import type { Logger } from '../../log/index.ts';
import { DuplicateAssignmentError, StoreConsistencyError } from './errors.ts';
import { GroupCommit, type Outcome } from './group-commit.ts';
import {
  type AssignmentRow,
  type RawAssignment,
  type RawTask,
  type TaskRow,
  taskOf,
  toRow,
} from './rows.ts';
import { assertKnownVersion, migrate } from './schema.ts';
import { prepareStatements, type Statements } from './statements.ts';
import { describeAssignment, failedTaskPages } from './wire.ts';

export interface StoreOptions {
  readonly stateDir: string;
  readonly log: Logger;
  /** Delay before retrying a failed group commit, ms (default 1000). */
  readonly commitRetryMs?: number;
  /**
   * How long the first queued outcome waits for others to share its commit, ms (default 25).
   * Each commit fsyncs the WAL and blocks the event loop meanwhile (a few ms on a busy disk):
   * at 5 ms that was a sixth of the event loop while copying small objects; at 25 ms a
   * commit covers a few dozen tasks; a slow commit stretches the next wait (group-commit.ts).
   * Tasks free their download slot before waiting, so the wait costs latency of the report
   * only, never download throughput.
   */
  readonly commitDelayMs?: number;
}

/** Opens the database and brings its schema up to date; refuses one a newer agent wrote. */
function open(stateDir: string, log: Logger): Database.Database {
  mkdirSync(stateDir, { recursive: true });
  const db = new Database(join(stateDir, 'agent.sqlite'));
  try {
    db.pragma('busy_timeout = 5000');
    // Before any pragma that changes the file: a newer agent's database is left as it is.
    assertKnownVersion(db);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    const applied = migrate(db);
    if (applied.length > 0) log.info({ file: db.name, applied }, 'agent store schema migrated');
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

export class AgentStore {
  private readonly db: Database.Database;
  private readonly log: Logger;
  private readonly stmts: Statements;
  private readonly outcomes: GroupCommit;

  constructor(options: StoreOptions) {
    this.log = options.log;
    this.db = open(options.stateDir, options.log);
    this.stmts = prepareStatements(this.db);
    this.outcomes = new GroupCommit(this.commitOutcomes, {
      log: options.log,
      retryMs: options.commitRetryMs ?? 1000,
      delayMs: options.commitDelayMs ?? 25,
    });
  }

  /**
   * Stores a new assignment and all its tasks in one durable transaction.
   * Throws DuplicateAssignmentError when the id exists (the UNIQUE constraint makes the
   * duplicate check atomic with the insert).
   */
  createAssignment(
    uuid: string,
    tasks: Iterable<Task>,
    total: number,
    now = Date.now(),
  ): AssignmentRow {
    const create = this.db.transaction(() => {
      const { seq } = this.stmts.insertAssignment.get(uuid, total, now) as { seq: number };
      let i = 0;
      for (const t of tasks) {
        this.stmts.insertTask.run(
          seq,
          i++,
          t.object_id,
          t.owner,
          t.md5sum,
          t.source.datacenter,
          t.source.manta_storage_id,
          t.bucket_id ?? null,
          t.object_name_hash ?? null,
        );
      }
      if (i !== total) throw new StoreConsistencyError(`expected ${total} tasks, got ${i}`);
      return seq;
    });
    try {
      const seq = create();
      return {
        seq,
        uuid,
        state: 'scheduled',
        total,
        complete: 0,
        failed: 0,
        receivedAt: now,
        completedAt: null,
      };
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
        throw new DuplicateAssignmentError(uuid);
      }
      throw err;
    }
  }

  get(uuid: string): AssignmentRow | undefined {
    const raw = this.stmts.byUuid.get(uuid) as RawAssignment | undefined;
    return raw && toRow(raw);
  }

  /**
   * Assignments not yet complete, in arrival order. Those that were running when the
   * process stopped go back to scheduled: their done tasks stay done.
   */
  resumeUnfinished(): AssignmentRow[] {
    this.stmts.requeue.run();
    return (this.stmts.unfinished.all() as RawAssignment[]).map(toRow);
  }

  /** Up to `limit` pending tasks with idx > afterIdx, in order. */
  pendingTasks(seq: number, afterIdx: number, limit: number): TaskRow[] {
    const rows = this.stmts.pendingTasks.all(seq, afterIdx, limit) as RawTask[];
    return rows.map((r) => ({ assignmentSeq: seq, idx: r.idx, task: taskOf(r, 'Pending') }));
  }

  markRunning(seq: number): void {
    this.stmts.markRunning.run(seq);
  }

  /**
   * Records a task's outcome (reason undefined = Complete). Resolves once committed;
   * commits are grouped and retried until they succeed or the store is closed.
   */
  recordOutcome(seq: number, idx: number, reason: ObjectSkippedReason | undefined): Promise<void> {
    return this.outcomes.record({ seq, idx, reason });
  }

  private readonly commitOutcomes = (batch: readonly Outcome[]): Error[] => {
    const problems: Error[] = [];
    this.db.transaction(() => {
      for (const o of batch) {
        const failed = o.reason === undefined ? 0 : 1;
        const bumped = this.stmts.bumpCounters.get(failed, o.seq) as
          | { complete: number }
          | undefined;
        if (bumped === undefined) {
          problems.push(new StoreConsistencyError(`assignment seq ${o.seq} is not open`));
          continue;
        }
        const changed = this.stmts.setOutcome.run(
          o.reason === undefined ? 'complete' : 'failed',
          o.reason === undefined ? null : JSON.stringify(o.reason),
          bumped.complete,
          o.seq,
          o.idx,
        ).changes;
        if (changed !== 1) {
          // Undo the counter bump by failing the whole batch: this is a logic error.
          throw new StoreConsistencyError(`task ${o.seq}/${o.idx} is not pending`);
        }
      }
    })();
    return problems;
  };

  /**
   * Marks an assignment complete. Any task still pending (which only a bug could cause) is
   * failed with AgentFSError in the same transaction: a task is never implied complete.
   * Returns the number of such tasks.
   */
  completeAssignment(seq: number, now = Date.now()): number {
    return this.db.transaction(() => {
      const leftovers = this.stmts.pendingIdx.all(seq) as { idx: number }[];
      const row = this.stmts.counters.get(seq) as { complete: number } | undefined;
      if (row === undefined) throw new StoreConsistencyError(`assignment seq ${seq} is gone`);
      let doneSeq = row.complete;
      for (const { idx } of leftovers) {
        this.stmts.failPending.run(JSON.stringify('AgentFSError'), ++doneSeq, seq, idx);
      }
      const changed = this.stmts.complete.run(now, leftovers.length, leftovers.length, seq).changes;
      if (changed !== 1) throw new StoreConsistencyError(`assignment seq ${seq} already complete`);
      return leftovers.length;
    })();
  }

  /** The wire view of an assignment (failure list in completion order when complete). */
  describe(row: AssignmentRow): Assignment {
    return describeAssignment(row, () => [...this.failedTaskPages(row.seq)].flat());
  }

  /**
   * The failed tasks of an assignment in completion order, one page per step. Each page is
   * a finished query, so other statements may run between steps (a response streams it).
   */
  failedTaskPages(seq: number, pageSize = 1000): Generator<Task[]> {
    return failedTaskPages(this.stmts, this.log, seq, pageSize);
  }

  /** Deletes an assignment and its tasks. */
  delete(seq: number): void {
    const changed = this.stmts.deleteBySeq.run(seq).changes;
    if (changed !== 1) throw new StoreConsistencyError(`assignment seq ${seq} not deleted`);
  }

  /** Deletes complete assignments finished before `cutoff` (ms); returns how many. */
  deleteCompletedBefore(cutoff: number): number {
    let removed = 0;
    for (;;) {
      const rows = this.stmts.expired.all(cutoff) as { seq: number }[];
      if (rows.length === 0) return removed;
      this.db.transaction(() => {
        for (const { seq } of rows) this.stmts.deleteBySeq.run(seq);
      })();
      removed += rows.length;
    }
  }

  /** Waits for queued outcomes to commit, then closes the database. */
  async close(): Promise<void> {
    if (!this.db.open) return;
    this.outcomes.close();
    this.db.close();
  }
}
