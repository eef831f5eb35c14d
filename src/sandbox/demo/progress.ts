/**
 * The job's progress as the manager reports it: a live bar on a terminal, plain periodic
 * lines otherwise (logs, CI, a pipe).
 */
import type { JobStatus } from '../../api/manager.ts';

export interface ProgressSink {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** Objects/s over the last few samples, and what is left. */
interface Sample {
  at: number;
  finished: number;
}

const RATE_WINDOW_MS = 5000;
const PLAIN_EVERY_MS = 5000;
const BAR_WIDTH = 24;

export class JobProgress {
  readonly #out: ProgressSink;
  readonly #samples: Sample[] = [];
  readonly #started = Date.now();
  #lastPlain = 0;
  #drawn = false;

  constructor(out: ProgressSink) {
    this.#out = out;
  }

  update(status: JobStatus): void {
    const now = Date.now();
    const r = status.results;
    const finished = r.Complete + r.Skipped + r.Error;
    this.#samples.push({ at: now, finished });
    while (this.#samples.length > 2 && now - (this.#samples[0]?.at ?? now) > RATE_WINDOW_MS) {
      this.#samples.shift();
    }
    const line = describe(status, this.#rate(), (now - this.#started) / 1000);
    if (this.#out.isTTY) {
      const width = Math.max(40, (this.#out.columns || 120) - 1);
      this.#out.write(`\r\x1b[K${line.slice(0, width)}`);
      this.#drawn = true;
    } else if (now - this.#lastPlain >= PLAIN_EVERY_MS) {
      this.#lastPlain = now;
      this.#out.write(`${line}\n`);
    }
  }

  /** Leaves the last bar on its own line. */
  finish(status: JobStatus): void {
    this.#lastPlain = 0;
    this.update(status);
    if (this.#drawn) this.#out.write('\n');
  }

  #rate(): number {
    const first = this.#samples[0];
    const last = this.#samples[this.#samples.length - 1];
    if (!first || !last || last.at === first.at) return 0;
    return ((last.finished - first.finished) * 1000) / (last.at - first.at);
  }
}

/** `[#####-----]  1234/3400  36%  512 obj/s  ETA 5s  complete 1200 ...` */
export function describe(status: JobStatus, rate: number, elapsedSeconds: number): string {
  const r = status.results;
  const finished = r.Complete + r.Skipped + r.Error;
  const total = r.Total;
  // The manager counts objects as discovery records them: finished may run ahead of Total.
  const fraction = total > 0 ? Math.min(1, finished / total) : 0;
  const filled = Math.round(fraction * BAR_WIDTH);
  const bar = `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}]`;
  const eta = rate > 0 && total > finished ? `ETA ${formatSeconds((total - finished) / rate)}` : '';
  return [
    `${status.state.padEnd(8)} ${bar}`,
    `${finished}/${total}`,
    `${Math.floor(fraction * 100)}%`,
    `${Math.round(rate)} obj/s`,
    eta,
    `unprocessed ${r.Unprocessed} assigned ${r.Assigned} post ${r['Post Processing']}`,
    `complete ${r.Complete} skipped ${r.Skipped} error ${r.Error}`,
    `(${formatSeconds(elapsedSeconds)})`,
  ]
    .filter((part) => part !== '')
    .join('  ');
}

export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)}s`;
  const m = Math.floor(seconds / 60);
  return `${m}m${Math.round(seconds - m * 60)
    .toString()
    .padStart(2, '0')}s`;
}
