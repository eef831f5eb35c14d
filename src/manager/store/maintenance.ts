/**
 * Vacuums the store's busiest tables while jobs run, when the server does not: every object's
 * row is rewritten four or five times on its way through a job, so a 1,000,000-object job
 * leaves millions of dead row versions. PostgreSQL's autovacuum reclaims them; where it is
 * off (as on some hosts; PGlite has none), updates slow down as the table bloats (an evacuation
 * fell from 540 to 120 objects/s a quarter of the way through a million objects).
 */
import type { Database } from '../../db/index.ts';
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

/** Whether the server vacuums on its own (PGlite runs no autovacuum). */
export async function autovacuumOn(db: Database): Promise<boolean> {
  if (db.kind === 'pglite') return false;
  const { rows } = await db.query<{ on: string }>(`SELECT current_setting('autovacuum') AS on`);
  return rows[0]?.on === 'on';
}

export class StoreMaintenance {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly options: MaintenanceOptions) {}

  /** Starts vacuuming on the interval, unless the server's autovacuum does it. */
  async start(): Promise<void> {
    if (await autovacuumOn(this.options.db)) return;
    this.options.log.info(
      { intervalMs: this.options.intervalMs ?? 60_000 },
      'autovacuum is off: the manager vacuums its tables while jobs run',
    );
    this.timer = setInterval(() => {
      if (this.running === undefined && this.options.busy()) {
        this.running = this.vacuum().finally(() => {
          this.running = undefined;
        });
      }
    }, this.options.intervalMs ?? 60_000);
    this.timer.unref();
  }

  /** Vacuums (and analyzes) the churned tables; a failure is logged, the next turn retries. */
  async vacuum(): Promise<void> {
    const started = performance.now();
    try {
      for (const table of CHURNED_TABLES) await this.options.db.exec(`VACUUM (ANALYZE) ${table}`);
      this.options.log.info({ ms: Math.round(performance.now() - started) }, 'tables vacuumed');
    } catch (err) {
      this.options.log.warn({ err }, 'vacuuming the tables failed; trying again next time');
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
