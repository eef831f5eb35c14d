/**
 * A job's progress over its whole life (issue 17, `GET /jobs/:uuid/history`). The progress
 * tracker samples running jobs every second in memory; this keeps one of those samples every
 * `intervalMs` in `job_progress_samples`, and one more when the job stops running here, so the
 * console's chart spans the job's life and outlives a manager restart. Memory: one timestamp
 * per running job, and the few jobs whose final sample is still to be written.
 */
import type { JobHistory } from '../../api/console.ts';
import type { Logger } from '../../log/index.ts';
import type { ManagerStore } from '../store/index.ts';
import { settled } from './progress-totals.ts';

/** A final sample that cannot be written is tried again at the next rounds, this often. */
const FINAL_ATTEMPTS = 5;

export interface HistoryRecorderOptions {
  readonly store: ManagerStore;
  readonly log: Logger;
  /** Time between a running job's samples, ms. */
  readonly intervalMs: number;
}

export class HistoryRecorder {
  readonly #o: HistoryRecorderOptions;
  /** When each running job's last sample was written. */
  readonly #written = new Map<string, number>();
  /** Jobs that stopped running, and the attempts left at writing their final sample. */
  readonly #ending = new Map<string, number>();

  constructor(options: HistoryRecorderOptions) {
    this.#o = options;
  }

  /**
   * A running job's current reading: written when its last one is `intervalMs` old, or it has
   * none yet (a job seen for the first time, or again after a restart). A failed write throws
   * and is retried at the next reading, which is then due.
   */
  async observe(jobId: string, at: number, done: number, bytesDone: number): Promise<void> {
    const last = this.#written.get(jobId);
    if (last !== undefined && at - last < this.#o.intervalMs) return;
    await this.#o.store.recordProgressSample(jobId, {
      at: new Date(at),
      objectsDone: done,
      bytesDone,
    });
    this.#written.set(jobId, at);
  }

  /** The job stopped running here: its final sample is written at the next `flush`. */
  ended(jobId: string): void {
    this.#written.delete(jobId);
    this.#ending.set(jobId, FINAL_ATTEMPTS);
  }

  /** Writes the final sample of every job that ended, from its counters as they are now. */
  async flush(): Promise<void> {
    const { store, log } = this.#o;
    for (const [jobId, attempts] of this.#ending) {
      try {
        // A job deleted meanwhile has no row to sample against.
        if ((await store.getJob(jobId)) !== undefined) {
          const { done, bytesDone } = settled(await store.counts(jobId));
          await store.recordProgressSample(jobId, {
            at: new Date(),
            objectsDone: done,
            bytesDone,
          });
        }
        this.#ending.delete(jobId);
      } catch (err) {
        if (attempts > 1) {
          this.#ending.set(jobId, attempts - 1);
          log.warn({ err, job: jobId }, 'history: the final sample failed; trying again');
        } else {
          this.#ending.delete(jobId);
          log.error({ err, job: jobId }, 'history: the final sample failed; giving up');
        }
      }
    }
  }
}

/**
 * The job's samples, at most `points` (first and last kept), each with the rates since the one
 * before it. A count that went down (a convergence round reopening objects) is a rate of 0.
 */
export async function jobHistory(
  store: ManagerStore,
  jobId: string,
  points: number,
): Promise<JobHistory> {
  const rows = await store.progressSamples(jobId, points);
  return {
    samples: rows.map((s, i) => {
      const prev = rows[i - 1];
      // The first sample has no interval before it: its rates are 0.
      const seconds = prev === undefined ? 0 : (s.at.getTime() - prev.at.getTime()) / 1000;
      const rate = (now: number, before: number) =>
        seconds > 0 ? Math.max(0, (now - before) / seconds) : 0;
      return {
        at: s.at.toISOString(),
        objects_done: s.objectsDone,
        bytes_done: s.bytesDone,
        objects_per_second: rate(s.objectsDone, prev?.objectsDone ?? 0),
        bytes_per_second: rate(s.bytesDone, prev?.bytesDone ?? 0),
      };
    }),
  };
}
