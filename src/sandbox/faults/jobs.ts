/**
 * Driving the evacuation as an operator would, through the manager's public API only: create
 * the job, follow it (a manager that is down for a while is waited for, not given up on), and
 * `job retry` it while it ends with outcomes a retry could change, up to a number of retries.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ManagerClient } from '../../adm/client.ts';
import { FINAL_JOB_STATE_NAMES, type JobStatus } from '../../api/manager.ts';
import { RebalancerError } from '../../errors.ts';
import { INCURABLE_REASONS } from './accounting.ts';

export class JobFollowError extends RebalancerError {
  override readonly name = 'JobFollowError';
  readonly code = 'JobFollowError';
}

export interface JobOutcome {
  id: string;
  status: JobStatus;
}

const POLL_MS = 250;

/** Skips that leave nothing to do: the object is off the shark, or gone, already. */
const SETTLED_REASONS: ReadonlySet<string> = new Set(['object_not_on_shark']);

/** Polls the job until it is in a final state; errors (manager down) are waited out. */
export async function followJob(
  manager: ManagerClient,
  id: string,
  timeoutMs: number,
): Promise<JobStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: string | undefined;
  for (;;) {
    try {
      const status = await manager.get(id);
      if (FINAL_JOB_STATE_NAMES.includes(status.state)) return status;
      last = `state ${status.state}: ${JSON.stringify(status.results)}`;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) {
      throw new JobFollowError(`job ${id} not finished after ${timeoutMs} ms (last: ${last})`);
    }
    await sleep(POLL_MS);
  }
}

/** A call the manager may not answer while it restarts: tried again until `timeoutMs`. */
export async function untilAnswered<T>(timeoutMs: number, call: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await call();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(POLL_MS);
    }
  }
}

/** Whether an operator would retry: the job failed, or holds errors or skips a retry may cure. */
export function worthRetrying(status: JobStatus): boolean {
  if (status.state !== 'Complete') return true;
  if (status.results.Error > 0) return true;
  return Object.keys(status.results.skip_breakdown ?? {}).some(
    (r) => !INCURABLE_REASONS.has(r) && !SETTLED_REASONS.has(r),
  );
}

/** Retries `first` while worth it, up to `retries` times; every job of the chain, oldest first. */
export async function retryChain(
  manager: ManagerClient,
  first: JobOutcome,
  retries: number,
  timeoutMs: number,
  log: (message: string) => void,
): Promise<JobOutcome[]> {
  const chain = [first];
  let last = first;
  // A retry that moved nothing would only repeat itself: an operator stops there.
  while (
    chain.length <= retries &&
    worthRetrying(last.status) &&
    (chain.length === 1 || last.status.results.Complete > 0)
  ) {
    const id = await untilAnswered(timeoutMs, () => manager.retry(last.id));
    log(`retry ${chain.length} of ${last.id}: job ${id}`);
    last = { id, status: await followJob(manager, id, timeoutMs) };
    log(`job ${id} ${last.status.state}: ${summary(last.status)}`);
    chain.push(last);
  }
  return chain;
}

/** A job's results in one line. */
export function summary(status: JobStatus): string {
  const r = status.results;
  const skips = JSON.stringify(r.skip_breakdown ?? {});
  const errors = JSON.stringify(r.error_breakdown ?? {});
  return `complete ${r.Complete}, skipped ${r.Skipped} ${skips}, error ${r.Error} ${errors}${status.error ? `, ${status.error}` : ''}`;
}
