/**
 * `job get --watch`: polls a job until it reaches a final state. People get a live progress
 * bar (redrawn in place on a terminal, a line per poll otherwise) and then the full status;
 * scripts (`--json`) get one status object per line.
 */
import { FINAL_JOB_STATE_NAMES, type JobStatus } from '../api/manager.ts';
import { sleep } from '../async/index.ts';
import type { ManagerClient } from './client.ts';
import { formatJobStatus } from './format.ts';

const BAR_WIDTH = 30;

/** Objects that reached an end state. */
function done(s: JobStatus): number {
  return s.results.Complete + s.results.Skipped + s.results.Error;
}

/** One line: state, bar, counts and the rate since the previous poll. */
export function formatProgress(s: JobStatus, objectsPerSecond: number | undefined): string {
  const total = s.results.Total;
  const finished = done(s);
  const fraction = total === 0 ? 0 : Math.min(1, finished / total);
  const filled = Math.round(fraction * BAR_WIDTH);
  const bar = `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}]`;
  const n = (v: number): string => v.toLocaleString('en-US');
  const rate = objectsPerSecond === undefined ? '' : `  ${n(Math.round(objectsPerSecond))} obj/s`;
  return (
    `${s.state.padEnd(9)} ${bar} ${String(Math.floor(fraction * 100)).padStart(3)}%  ` +
    `${n(finished)}/${n(total)} done (complete ${n(s.results.Complete)}, ` +
    `skipped ${n(s.results.Skipped)}, error ${n(s.results.Error)})${rate}`
  );
}

export interface WatchOptions {
  readonly intervalMs: number;
  readonly json: boolean;
  readonly out: NodeJS.WriteStream;
}

/** Watches job `id` until it is final; resolves with its last status. */
export async function watchJob(
  client: ManagerClient,
  id: string,
  options: WatchOptions,
): Promise<JobStatus> {
  const { out } = options;
  const redraw = out.isTTY === true && !options.json;
  let previous: { at: number; done: number } | undefined;
  for (;;) {
    const status = await client.get(id);
    const now = performance.now();
    const final = FINAL_JOB_STATE_NAMES.includes(status.state);
    if (options.json) {
      out.write(`${JSON.stringify(status)}\n`);
    } else {
      const rate =
        previous === undefined || now === previous.at
          ? undefined
          : ((done(status) - previous.done) * 1000) / (now - previous.at);
      const line = formatProgress(status, rate);
      out.write(redraw ? `\r\x1b[2K${line}` : `${line}\n`);
      if (final) out.write(`${redraw ? '\n' : ''}\n${formatJobStatus(id, status)}`);
    }
    if (final) return status;
    previous = { at: now, done: done(status) };
    await sleep(options.intervalMs);
  }
}
