/**
 * Vacuums tables on an interval where the server does not. PostgreSQL's autovacuum reclaims
 * the dead row versions that updates leave; where it is off (some hosts run without it; PGlite
 * has none) a table that is rewritten row by row bloats and every update slows down with it
 * (an evacuation fell from 540 to 120 objects/s a quarter of the way through a million
 * objects). The owner says which tables are due at each turn.
 */
import type { Logger } from '../log/index.ts';
import type { Database } from './types.ts';

/** Whether the server vacuums on its own (PGlite runs no autovacuum). */
export async function autovacuumOn(db: Database): Promise<boolean> {
  if (db.kind === 'pglite') return false;
  const { rows } = await db.query<{ on: string }>(`SELECT current_setting('autovacuum') AS on`);
  return rows[0]?.on === 'on';
}

export interface TableVacuumerOptions {
  readonly db: Database;
  readonly log: Logger;
  /** Time between turns, ms (default 60 s). */
  readonly intervalMs?: number;
  /** The tables to vacuum at this turn, in order; none skips the turn. Names are trusted SQL. */
  readonly due: () => readonly string[];
}

const DEFAULT_INTERVAL_MS = 60_000;

export class TableVacuumer {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly options: TableVacuumerOptions) {}

  /** Starts the turns unless the server's autovacuum does the work; true when started. */
  async start(): Promise<boolean> {
    if (await autovacuumOn(this.options.db)) return false;
    const intervalMs = this.options.intervalMs ?? DEFAULT_INTERVAL_MS;
    this.options.log.info({ intervalMs }, 'autovacuum is off: vacuuming our own tables');
    this.timer = setInterval(() => {
      if (this.running !== undefined) return; // the last turn is still going: skip this one
      const tables = this.options.due();
      if (tables.length === 0) return;
      this.running = this.vacuum(tables).finally(() => {
        this.running = undefined;
      });
    }, intervalMs);
    this.timer.unref();
    return true;
  }

  /** Vacuums (and analyzes) `tables`; a failure is logged and the next turn tries again. */
  async vacuum(tables: readonly string[]): Promise<void> {
    const started = performance.now();
    try {
      for (const table of tables) await this.options.db.exec(`VACUUM (ANALYZE) ${table}`);
      const ms = Math.round(performance.now() - started);
      this.options.log.info({ tables, ms }, 'tables vacuumed');
    } catch (err) {
      this.options.log.warn({ err, tables }, 'vacuuming failed; the next turn tries again');
    }
  }

  /** Stops the turns, after the one under way (if any) has finished. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
