/**
 * The one progress renderer (issue 15), for `job get --watch` and the demo: it draws the
 * manager's `progress` of a job and works out nothing itself — no rate from polls, and no ETA
 * when the manager has none (an ETA is never guessed here).
 *
 * On a terminal the frame is redrawn in place by log-update, which erases exactly the lines
 * the previous frame took, wrapped or not, so the stall line under the bar comes and goes
 * cleanly. Anywhere else (a pipe, a log, CI) frames are plain lines without escape codes: a
 * bar library that redraws on its own timer (cli-progress) and computes its own ETA would
 * fight both rules.
 */
import { createLogUpdate } from 'log-update';
import { FINAL_JOB_STATE_NAMES, type JobStatus } from '../api/manager.ts';
import type { JobProgress } from '../api/progress.ts';
import { count, humanBytes, humanDuration } from './units.ts';

const BAR_WIDTH = 30;

/** Where frames go; log-update uses only these members of a stream. */
export interface ProgressOutput {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
  rows?: number;
}

/**
 * The frame of `status`: the bar line, and the stall's reason below it when stalled. Without a
 * `progress` (a manager from before it) the counts alone, with neither rate nor ETA.
 */
export function progressLines(status: JobStatus): string[] {
  const p = status.progress ?? fromResults(status);
  const fraction = p.objects_total > 0 ? Math.min(1, p.objects_done / p.objects_total) : 0;
  const filled = Math.round(fraction * BAR_WIDTH);
  const approx = p.total_is_estimate ? '~' : '';
  const r = status.results;
  const ends = `complete ${count(r.Complete)}, skipped ${count(r.Skipped)}, error ${count(r.Error)}`;
  const parts = [
    `${status.state.padEnd(9)} [${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}]`,
    `${String(Math.floor(fraction * 100)).padStart(3)}%`,
    `${count(p.objects_done)}/${approx}${count(p.objects_total)} done (${ends})`,
    ...(p.bytes_total > 0
      ? [`${humanBytes(p.bytes_done)}/${approx}${humanBytes(p.bytes_total)}`]
      : []),
    // A finished job's rates are zeros, and an older manager has none.
    ...(status.progress === undefined || FINAL_JOB_STATE_NAMES.includes(status.state)
      ? []
      : [`${rate(p.objects_per_second)} obj/s`, `${humanBytes(p.bytes_per_second)}/s`]),
    ...(p.eta_seconds === null ? [] : [`ETA ${humanDuration(p.eta_seconds)}`]),
  ];
  const lines = [parts.join('  ')];
  if (p.stalled !== null) {
    lines.push(`  stalled since ${p.stalled.since.replace(/\.\d+Z$/, 'Z')}: ${p.stalled.reason}`);
  }
  return lines;
}

function fromResults(s: JobStatus): JobProgress {
  const r = s.results;
  return {
    objects_done: r.Complete + r.Skipped + r.Error,
    objects_total: r.Total,
    bytes_done: 0,
    bytes_total: 0,
    total_is_estimate: false,
    objects_per_second: 0,
    bytes_per_second: 0,
    eta_seconds: null,
    stalled: null,
  };
}

/**
 * Shows a job's frames: redrawn in place on a terminal; otherwise a plain frame per update, at
 * most one per `plainEveryMs` (the last one, on finish, always).
 */
export class ProgressView {
  readonly #out: ProgressOutput;
  readonly #plainEveryMs: number;
  readonly #redraw: ReturnType<typeof createLogUpdate> | undefined;
  #lastPlain = Number.NEGATIVE_INFINITY;

  constructor(out: ProgressOutput, options: { plainEveryMs?: number } = {}) {
    this.#out = out;
    this.#plainEveryMs = options.plainEveryMs ?? 0;
    // The cursor stays visible: hiding it would leave a hook on the process to restore it.
    this.#redraw =
      out.isTTY === true
        ? createLogUpdate(out as unknown as NodeJS.WritableStream, { showCursor: true })
        : undefined;
  }

  update(status: JobStatus): void {
    const frame = progressLines(status).join('\n');
    if (this.#redraw !== undefined) {
      this.#redraw(frame);
      return;
    }
    const now = performance.now();
    if (now - this.#lastPlain < this.#plainEveryMs) return;
    this.#lastPlain = now;
    this.#out.write(`${frame}\n`);
  }

  /** Draws `status` a last time and leaves it: whatever is written next goes below it. */
  finish(status: JobStatus): void {
    this.#lastPlain = Number.NEGATIVE_INFINITY;
    this.update(status);
    this.#redraw?.done();
  }
}

/** `45s`, `4m10s`, `2h05m`, `3d04h`. */
/** Under 10/s with a decimal: a slow job's rate is not rounded to nothing. */
function rate(n: number): string {
  return n < 10 ? n.toFixed(1) : count(Math.round(n));
}
