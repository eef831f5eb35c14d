/**
 * `job_retention_days` (issue 19): finished jobs last changed longer ago than that are deleted
 * with all their rows, at start and then every hour, so a manager that runs for years keeps a
 * bounded store. The setting is read at each turn (a reload applies at the next one); absent,
 * jobs are kept forever. Never an unfinished job (JobDataService.purgeBefore).
 */
import type { Logger } from '../../log/index.ts';
import type { JobDataService } from './job-data.ts';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

export interface JobRetentionOptions {
  readonly data: Pick<JobDataService, 'purgeBefore'>;
  /** Days a finished job is kept; null or undefined: forever. */
  readonly days: () => number | null | undefined;
  readonly log: Logger;
  /** Time between purges, ms (default an hour). */
  readonly intervalMs?: number;
  readonly now?: () => number;
}

export class JobRetention {
  private timer: NodeJS.Timeout | undefined;
  private turn: Promise<void> | undefined;

  constructor(private readonly options: JobRetentionOptions) {}

  /** Purges once now (awaited), then at every interval. */
  async start(): Promise<void> {
    await this.purge();
    this.timer = setInterval(() => {
      // A purge still going (a huge job) is not doubled: this turn is skipped.
      if (this.turn === undefined) void this.purge();
    }, this.options.intervalMs ?? HOUR_MS);
    this.timer.unref();
  }

  /** Stops the turns, after the one under way (if any) has finished. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.turn;
  }

  /** One purge; a failure is logged and the next turn tries again. */
  purge(): Promise<void> {
    this.turn ??= this.run().finally(() => {
      this.turn = undefined;
    });
    return this.turn;
  }

  private async run(): Promise<void> {
    const { days: setting, log, data } = this.options;
    const days = setting();
    if (days === null || days === undefined) return;
    const before = new Date((this.options.now ?? Date.now)() - days * DAY_MS);
    try {
      await data.purgeBefore(before, (job) =>
        log.info(
          { job: job.deleted, objects: job.objects, job_retention_days: days },
          'purged a finished job past job_retention_days',
        ),
      );
    } catch (err) {
      log.error(
        { err, job_retention_days: days },
        'purging old jobs failed; the next turn retries',
      );
    }
  }
}
