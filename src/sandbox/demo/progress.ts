/**
 * The demo's progress bar: the manager's progress of the job, drawn by the renderer
 * `rebalancer-adm job get --watch` uses (adm/progress.ts). A live bar on a terminal; plain
 * lines every few seconds otherwise (logs, CI, a pipe).
 *
 * It also keeps what the user was told about the time left, for the demo's report and its
 * benchmark: the first ETA the manager gave, when, and how far from the real end it was.
 */
import { type ProgressOutput, ProgressView } from '../../adm/progress.ts';
import type { JobStatus } from '../../api/manager.ts';

export type ProgressSink = ProgressOutput;

const PLAIN_EVERY_MS = 5000;

/** The first ETA of the job, judged against its end; all null when none was given. */
export interface EtaReport {
  /** Seconds from the bar's start (the job's creation) to the first poll with an ETA. */
  first_at: number | null;
  first_eta_seconds: number | null;
  /** Whether the job's total was still an estimate (discovery running) at that poll. */
  first_total_was_estimate: boolean | null;
  /** The bar's first poll with every object of the job found (discovery ended). */
  total_known_at: number | null;
  /** When the job ended, from the bar's start. */
  ended_at: number | null;
  /** first_at + first_eta_seconds − ended_at: positive when the ETA promised too late an end. */
  first_error_seconds: number | null;
}

export class JobProgress extends ProgressView {
  readonly #began = performance.now();
  readonly #eta: EtaReport = {
    first_at: null,
    first_eta_seconds: null,
    first_total_was_estimate: null,
    total_known_at: null,
    ended_at: null,
    first_error_seconds: null,
  };

  constructor(out: ProgressSink) {
    super(out, { plainEveryMs: PLAIN_EVERY_MS });
  }

  override update(status: JobStatus): void {
    const at = (performance.now() - this.#began) / 1000;
    const p = status.progress;
    if (p !== undefined && !p.total_is_estimate) this.#eta.total_known_at ??= round(at);
    if (p?.eta_seconds != null && this.#eta.first_at === null) {
      this.#eta.first_at = round(at);
      this.#eta.first_eta_seconds = p.eta_seconds;
      this.#eta.first_total_was_estimate = p.total_is_estimate;
    }
    super.update(status);
  }

  override finish(status: JobStatus): void {
    super.finish(status);
    const ended = (performance.now() - this.#began) / 1000;
    this.#eta.ended_at = round(ended);
    const { first_at, first_eta_seconds } = this.#eta;
    if (first_at !== null && first_eta_seconds !== null) {
      this.#eta.first_error_seconds = round(first_at + first_eta_seconds - ended);
    }
  }

  /** What the user was told of the time left; complete once finish() has run. */
  get eta(): EtaReport {
    return { ...this.#eta };
  }
}

const round = (n: number): number => Math.round(n * 100) / 100;
