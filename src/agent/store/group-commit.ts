/**
 * Group commit of task outcomes: every outcome waits for a real commit, but one fsync covers
 * many. The first queued outcome waits a few milliseconds for others to share its commit;
 * a failed commit is retried, with the outcomes queued meanwhile, until it succeeds or the
 * store closes.
 */
import type { ObjectSkippedReason } from '../../api/common.ts';
import type { Logger } from '../../log/index.ts';
import { StoreClosedError, StoreConsistencyError } from './errors.ts';

/** A task's outcome: reason undefined = Complete. */
export interface Outcome {
  readonly seq: number;
  readonly idx: number;
  readonly reason: ObjectSkippedReason | undefined;
}

interface PendingOutcome extends Outcome {
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

/**
 * Commits a batch in one transaction. Returns the outcomes' own problems (recorded as not
 * committed, the rest commits); throws StoreConsistencyError to roll the whole batch back.
 */
export type CommitOutcomes = (batch: readonly Outcome[]) => Error[];

export interface GroupCommitOptions {
  readonly log: Logger;
  /** Delay before retrying a failed commit, ms. */
  readonly retryMs: number;
  /** How long the first queued outcome waits for others to share its commit, ms. */
  readonly delayMs: number;
}

/** Outcomes that are committed at once without waiting for the delay. */
const COMMIT_BATCH_MAX = 512;
/**
 * A commit blocks the event loop for its WAL fsync, however long the disk takes (20 ms and
 * more on a busy one): the wait before the next one is at least this many times the last
 * commit's duration, so commits never hold the loop more than about a fifth of the time.
 */
const COMMIT_SPACING = 4;
/** Upper bound of that stretched wait, ms: the latency of a report stays short. */
const COMMIT_DELAY_MAX_MS = 250;

export class GroupCommit {
  private pending: PendingOutcome[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Duration of the last commit, ms. */
  private lastCommitMs = 0;

  constructor(
    private readonly commit: CommitOutcomes,
    private readonly options: GroupCommitOptions,
  ) {}

  /** Resolves once the outcome is committed. */
  record(outcome: Outcome): Promise<void> {
    if (this.closed) return Promise.reject(new StoreClosedError('agent store is closed'));
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ ...outcome, resolve, reject });
      // While a failed commit waits for its retry, new outcomes join it.
      if (this.retryTimer !== undefined) return;
      if (this.pending.length >= COMMIT_BATCH_MAX) this.flush();
      else this.flushTimer ??= setTimeout(() => this.flush(), this.delay());
    });
  }

  private delay(): number {
    const stretched = Math.min(COMMIT_DELAY_MAX_MS, COMMIT_SPACING * this.lastCommitMs);
    return Math.max(this.options.delayMs, stretched);
  }

  private flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    try {
      const started = performance.now();
      const problems = this.commit(batch);
      this.lastCommitMs = performance.now() - started;
      for (const p of problems) this.options.log.error({ err: p }, 'task outcome not recorded');
      for (const o of batch) o.resolve();
    } catch (err) {
      if (err instanceof StoreConsistencyError) {
        // Retrying cannot help; record them one by one so only the bad one fails.
        for (const o of batch) {
          try {
            const problems = this.commit([o]);
            if (problems[0]) throw problems[0];
            o.resolve();
          } catch (single) {
            o.reject(single as Error);
          }
        }
        return;
      }
      this.options.log.error(
        { err, outcomes: batch.length },
        'commit of task outcomes failed; retrying',
      );
      this.pending = batch.concat(this.pending);
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.flush();
      }, this.options.retryMs);
    }
  }

  /** Commits what is queued, once more; rejects what still could not be committed. */
  close(): void {
    if (this.closed) return;
    if (this.retryTimer !== undefined) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
    }
    this.flush();
    this.closed = true;
    for (const o of this.pending)
      o.reject(new StoreClosedError('agent store closed before commit'));
    this.pending = [];
  }
}
