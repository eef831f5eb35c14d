/**
 * Skips and errors found while placing objects, batched into one store transition (with the
 * counters, and the metrics of a real run) rather than a write per object. A dry run records
 * its skips the same way, without metrics: it moves nothing.
 */
import type { ManagerMetrics } from '../../metrics.ts';
import {
  type ManagerStore,
  type SkipReasonDb,
  skipReasonLabel,
  type TransitionGroup,
} from '../../store/index.ts';
import type { BadObjectError } from './object.ts';

export interface OutcomesTarget {
  jobId: string;
  store: ManagerStore;
  metrics: ManagerMetrics | undefined;
  /** Outcomes held before `full` says to write them. */
  outcomeBatch: number;
}

export class PendingOutcomes {
  private readonly skips = new Map<SkipReasonDb, string[]>();
  private readonly errors: { id: string; error: BadObjectError }[] = [];

  constructor(private readonly target: OutcomesTarget) {}

  skip(id: string, reason: SkipReasonDb): void {
    const ids = this.skips.get(reason);
    if (ids) ids.push(id);
    else this.skips.set(reason, [id]);
  }

  error(id: string, error: BadObjectError): void {
    this.errors.push({ id, error });
  }

  get full(): boolean {
    let n = this.errors.length;
    for (const ids of this.skips.values()) n += ids.length;
    return n >= this.target.outcomeBatch;
  }

  /** Writes what is pending: unprocessed objects become skipped or error. */
  async flush(): Promise<void> {
    const groups: TransitionGroup[] = [...this.skips].map(([reason, ids]) => ({
      select: { ids },
      from: 'unprocessed',
      to: { status: 'skipped', reason },
    }));
    for (const e of this.errors) {
      groups.push({
        select: { ids: [e.id] },
        from: 'unprocessed',
        to: { status: 'error', error: e.error.error, detail: e.error.message },
      });
    }
    if (groups.length === 0) return;
    const { store, metrics, jobId } = this.target;
    await store.transition(jobId, groups);
    if (metrics) {
      for (const [reason, ids] of this.skips)
        metrics.objectSkips(skipReasonLabel(reason), ids.length);
      for (const e of this.errors) metrics.objectErrors(e.error.error, 1);
    }
    this.skips.clear();
    this.errors.length = 0;
  }
}
