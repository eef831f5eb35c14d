/**
 * The agent's durable state: one SQLite database (WAL, synchronous=FULL) holding every
 * assignment and its tasks. An assignment is committed before POST answers 200; each
 * task outcome and the completion are committed before GET can report them
 * (agent.md §4.8, fixes IMP-4/5/6 and MIN-2). Writes of task outcomes are grouped
 * ("group commit"): every outcome waits for a real commit, but one fsync covers many.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { AgentAssignmentState, Assignment } from '../api/agent.ts';
import {
  decodeReason,
  makeTask,
  type ObjectSkippedReason,
  type Task,
  type TaskStatus,
} from '../api/common.ts';
import type { Logger } from '../log/index.ts';

export type AssignmentState = 'scheduled' | 'running' | 'complete';

export interface AssignmentRow {
  readonly seq: number;
  readonly uuid: string;
  readonly state: AssignmentState;
  readonly total: number;
  readonly complete: number;
  readonly failed: number;
  readonly receivedAt: number;
  readonly completedAt: number | null;
}

/** A task as the scheduler sees it: its position in the assignment plus the wire fields. */
export interface TaskRow {
  readonly assignmentSeq: number;
  readonly idx: number;
  readonly task: Task;
}

/** The assignment id is already stored (409). */
export class DuplicateAssignmentError extends Error {
  override readonly name = 'DuplicateAssignmentError';
  constructor(readonly uuid: string) {
    super(`assignment ${uuid} already exists`);
  }
}

/** A write that must change exactly one row changed none (MIN-2). */
export class StoreConsistencyError extends Error {
  override readonly name = 'StoreConsistencyError';
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS assignments (
  seq          INTEGER PRIMARY KEY AUTOINCREMENT,
  uuid         TEXT NOT NULL UNIQUE,
  state        TEXT NOT NULL CHECK (state IN ('scheduled', 'running', 'complete')),
  total        INTEGER NOT NULL,
  complete     INTEGER NOT NULL DEFAULT 0,
  failed       INTEGER NOT NULL DEFAULT 0,
  received_at  INTEGER NOT NULL,
  completed_at INTEGER
);
CREATE INDEX IF NOT EXISTS assignments_completed ON assignments (completed_at)
  WHERE state = 'complete';
CREATE TABLE IF NOT EXISTS tasks (
  assignment_seq   INTEGER NOT NULL REFERENCES assignments (seq) ON DELETE CASCADE,
  idx              INTEGER NOT NULL,
  object_id        TEXT NOT NULL,
  owner            TEXT NOT NULL,
  md5sum           TEXT NOT NULL,
  datacenter       TEXT NOT NULL,
  manta_storage_id TEXT NOT NULL,
  bucket_id        TEXT,
  object_name_hash TEXT,
  status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'complete', 'failed')),
  reason           TEXT,
  done_seq         INTEGER,
  PRIMARY KEY (assignment_seq, idx)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tasks_failed ON tasks (assignment_seq, done_seq) WHERE status = 'failed';
`;

interface RawAssignment {
  seq: number;
  uuid: string;
  state: AssignmentState;
  total: number;
  complete: number;
  failed: number;
  received_at: number;
  completed_at: number | null;
}

interface RawTask {
  assignment_seq: number;
  idx: number;
  object_id: string;
  owner: string;
  md5sum: string;
  datacenter: string;
  manta_storage_id: string;
  bucket_id: string | null;
  object_name_hash: string | null;
  reason?: string | Buffer | null;
}

function toRow(raw: RawAssignment): AssignmentRow {
  return {
    seq: raw.seq,
    uuid: raw.uuid,
    state: raw.state,
    total: raw.total,
    complete: raw.complete,
    failed: raw.failed,
    receivedAt: raw.received_at,
    completedAt: raw.completed_at,
  };
}

function taskOf(raw: RawTask, status: TaskStatus): Task {
  return makeTask({
    object_id: raw.object_id,
    owner: raw.owner,
    md5sum: raw.md5sum,
    source: { datacenter: raw.datacenter, manta_storage_id: raw.manta_storage_id },
    status,
    bucket_id: raw.bucket_id ?? undefined,
    object_name_hash: raw.object_name_hash ?? undefined,
  });
}

interface PendingOutcome {
  readonly seq: number;
  readonly idx: number;
  readonly reason: ObjectSkippedReason | undefined;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

export interface StoreOptions {
  readonly stateDir: string;
  readonly log: Logger;
  /** Delay before retrying a failed group commit, ms (default 1000). */
  readonly commitRetryMs?: number;
  /**
   * How long the first queued outcome waits for others to share its commit, ms (default 5).
   * Each commit fsyncs the WAL and blocks the event loop meanwhile: one commit per few
   * milliseconds instead of one per task. Tasks free their download slot before waiting.
   */
  readonly commitDelayMs?: number;
}

/** Outcomes that are committed at once without waiting for the delay. */
const COMMIT_BATCH_MAX = 512;

export class AgentStore {
  private readonly db: Database.Database;
  private readonly log: Logger;
  private readonly commitRetryMs: number;
  private readonly commitDelayMs: number;
  private pending: PendingOutcome[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly stmts;

  constructor(options: StoreOptions) {
    this.log = options.log;
    this.commitRetryMs = options.commitRetryMs ?? 1000;
    this.commitDelayMs = options.commitDelayMs ?? 5;
    mkdirSync(options.stateDir, { recursive: true });
    this.db = new Database(join(options.stateDir, 'agent.sqlite'));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    const db = this.db;
    this.stmts = {
      insertAssignment: db.prepare(
        `INSERT INTO assignments (uuid, state, total, received_at)
         VALUES (?, 'scheduled', ?, ?) RETURNING seq`,
      ),
      insertTask: db.prepare(
        `INSERT INTO tasks (assignment_seq, idx, object_id, owner, md5sum, datacenter,
           manta_storage_id, bucket_id, object_name_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      byUuid: db.prepare('SELECT * FROM assignments WHERE uuid = ?'),
      unfinished: db.prepare(`SELECT * FROM assignments WHERE state != 'complete' ORDER BY seq`),
      requeue: db.prepare(`UPDATE assignments SET state = 'scheduled' WHERE state = 'running'`),
      pendingTasks: db.prepare(
        `SELECT * FROM tasks WHERE assignment_seq = ? AND idx > ? AND status = 'pending'
         ORDER BY idx LIMIT ?`,
      ),
      failedPage: db.prepare(
        `SELECT * FROM tasks WHERE assignment_seq = ? AND status = 'failed' AND done_seq > ?
         ORDER BY done_seq LIMIT ?`,
      ),
      markRunning: db.prepare(
        `UPDATE assignments SET state = 'running' WHERE seq = ? AND state = 'scheduled'`,
      ),
      bumpCounters: db.prepare(
        `UPDATE assignments SET complete = complete + 1, failed = failed + ?
         WHERE seq = ? AND state != 'complete' RETURNING complete`,
      ),
      setOutcome: db.prepare(
        `UPDATE tasks SET status = ?, reason = ?, done_seq = ?
         WHERE assignment_seq = ? AND idx = ? AND status = 'pending'`,
      ),
      countPending: db.prepare(
        `SELECT count(*) AS n FROM tasks WHERE assignment_seq = ? AND status = 'pending'`,
      ),
      failPending: db.prepare(
        `UPDATE tasks SET status = 'failed', reason = ?, done_seq = ?
         WHERE assignment_seq = ? AND idx = ?`,
      ),
      pendingIdx: db.prepare(
        `SELECT idx FROM tasks WHERE assignment_seq = ? AND status = 'pending' ORDER BY idx`,
      ),
      complete: db.prepare(
        `UPDATE assignments SET state = 'complete', completed_at = ?,
           complete = complete + ?, failed = failed + ?
         WHERE seq = ? AND state != 'complete'`,
      ),
      counters: db.prepare('SELECT complete FROM assignments WHERE seq = ?'),
      deleteBySeq: db.prepare('DELETE FROM assignments WHERE seq = ?'),
      expired: db.prepare(
        `SELECT seq FROM assignments WHERE state = 'complete' AND completed_at < ? LIMIT 100`,
      ),
    };
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
    if (this.closed) return Promise.reject(new Error('agent store is closed'));
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ seq, idx, reason, resolve, reject });
      // While a failed commit waits for its retry, new outcomes join it.
      if (this.retryTimer !== undefined) return;
      if (this.pending.length >= COMMIT_BATCH_MAX) this.flush();
      else this.flushTimer ??= setTimeout(() => this.flush(), this.commitDelayMs);
    });
  }

  private readonly commitOutcomes = (batch: readonly PendingOutcome[]): Error[] => {
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

  private flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    try {
      const problems = this.commitOutcomes(batch);
      for (const p of problems) this.log.error({ err: p }, 'task outcome not recorded');
      for (const o of batch) o.resolve();
    } catch (err) {
      if (err instanceof StoreConsistencyError) {
        // Retrying cannot help; record them one by one so only the bad one fails.
        for (const o of batch) {
          try {
            const problems = this.commitOutcomes([o]);
            if (problems[0]) throw problems[0];
            o.resolve();
          } catch (single) {
            o.reject(single as Error);
          }
        }
        return;
      }
      this.log.error({ err, outcomes: batch.length }, 'commit of task outcomes failed; retrying');
      this.pending = batch.concat(this.pending);
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.flush();
      }, this.commitRetryMs);
    }
  }

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
    let state: AgentAssignmentState;
    if (row.state === 'scheduled') state = 'Scheduled';
    else if (row.state === 'running') state = 'Running';
    else if (row.failed === 0) state = { Complete: null };
    else state = { Complete: this.failedTasks(row.seq) };
    return {
      uuid: row.uuid,
      stats: { state, failed: row.failed, complete: row.complete, total: row.total },
    };
  }

  private failedTasks(seq: number): Task[] {
    const out: Task[] = [];
    for (const page of this.failedTaskPages(seq)) out.push(...page);
    return out;
  }

  /**
   * The failed tasks of an assignment in completion order, one page per step. Each page is
   * a finished query, so other statements may run between steps (a response streams it).
   */
  *failedTaskPages(seq: number, pageSize = 1000): Generator<Task[]> {
    let after = 0;
    for (;;) {
      const rows = this.stmts.failedPage.all(seq, after, pageSize) as (RawTask & {
        done_seq: number;
      })[];
      if (rows.length === 0) return;
      after = rows[rows.length - 1]!.done_seq;
      yield rows.map((r) => taskOf(r, { Failed: this.reasonOf(seq, r) }));
    }
  }

  private reasonOf(seq: number, r: RawTask): ObjectSkippedReason {
    const raw = r.reason == null ? null : r.reason.toString();
    let reason: ObjectSkippedReason | undefined;
    try {
      reason = raw === null ? undefined : decodeReason(JSON.parse(raw));
    } catch {
      reason = undefined;
    }
    if (reason === undefined) {
      // CRIT-6: never silently relabel. Log the raw value; still report a failure.
      this.log.error({ seq, idx: r.idx, raw }, 'unreadable failure reason; reporting AgentFSError');
      return 'AgentFSError';
    }
    return reason;
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
    if (this.closed) return;
    if (this.retryTimer !== undefined) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
    }
    this.flush();
    this.closed = true;
    for (const o of this.pending) o.reject(new Error('agent store closed before commit'));
    this.pending = [];
    this.db.close();
  }
}
