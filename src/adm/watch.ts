/**
 * `job get --watch`: polls a job until it reaches a final state. People get the manager's
 * progress (adm/progress.ts: redrawn in place on a terminal, a line per poll otherwise) and then
 * the full status; scripts (`--json`) get one status object per line.
 */
import { FINAL_JOB_STATE_NAMES, type JobStatus } from '../api/manager.ts';
import { sleep } from '../async/index.ts';
import type { ManagerClient } from './client.ts';
import { formatJobStatus } from './format.ts';
import { type ProgressOutput, ProgressView } from './progress.ts';

export interface WatchOptions {
  readonly intervalMs: number;
  readonly json: boolean;
  readonly out: ProgressOutput;
}

/** Watches job `id` until it is final; resolves with its last status. */
export async function watchJob(
  client: ManagerClient,
  id: string,
  options: WatchOptions,
): Promise<JobStatus> {
  const { out } = options;
  const view = options.json ? undefined : new ProgressView(out);
  for (;;) {
    const status = await client.get(id);
    const final = FINAL_JOB_STATE_NAMES.includes(status.state);
    if (view === undefined) out.write(`${JSON.stringify(status)}\n`);
    else if (!final) view.update(status);
    else {
      view.finish(status);
      out.write(`\n${formatJobStatus(id, status)}`);
    }
    if (final) return status;
    await sleep(options.intervalMs);
  }
}
