/**
 * Vacuums the store's busiest tables while jobs run, when the server does not: every object's
 * row is rewritten four or five times on its way through a job, so a 1,000,000-object job
 * leaves millions of dead row versions (see src/db/vacuum.ts).
 */
import { type Database, TableVacuumer } from '../../db/index.ts';
import type { Logger } from '../../log/index.ts';

/** The tables a job churns, vacuumed in this order. */
const CHURNED_TABLES = ['evacuate_objects', 'assignments', 'job_counts'] as const;

export interface MaintenanceOptions {
  readonly db: Database;
  readonly log: Logger;
  /** Time between vacuums while some job runs, ms (default 60 s). */
  readonly intervalMs?: number;
  /** Whether a job is running now (no job, nothing to reclaim). */
  readonly busy: () => boolean;
}

/** A vacuumer of the manager's store: its churned tables, at turns when a job runs. */
export function storeVacuumer(options: MaintenanceOptions): TableVacuumer {
  return new TableVacuumer({
    db: options.db,
    log: options.log,
    ...(options.intervalMs === undefined ? {} : { intervalMs: options.intervalMs }),
    due: () => (options.busy() ? CHURNED_TABLES : []),
  });
}
