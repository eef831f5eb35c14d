/**
 * Reading a job's counters through the manager's API: waiting for a condition, and a rate over
 * a window (the counter's change between two reads, each timed at its request's midpoint).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ManagerClient } from '../../src/adm/client.ts';
import { FINAL_JOB_STATE_NAMES, type JobStatus } from '../../src/api/manager.ts';

export const MIB = 1024 * 1024;

export const isFinal = (status: JobStatus): boolean => FINAL_JOB_STATE_NAMES.includes(status.state);

/** Objects that reached an end: Complete + Skipped + Error. */
export const settled = (status: JobStatus): number =>
  status.results.Complete + status.results.Skipped + status.results.Error;

/** Bytes of the objects moved, as the job's progress reports them. */
export function bytesDone(status: JobStatus): number {
  if (!status.progress) throw new Error('the job reports no progress');
  return status.progress.bytes_done;
}

/** Objects still to settle, by the counts (not the estimate). */
const pending = (status: JobStatus): number =>
  status.results.Unprocessed + status.results.Assigned + status.results['Post Processing'];

export interface Reading {
  /** performance.now() at the request's midpoint, ms. */
  at: number;
  status: JobStatus;
}

export async function read(manager: ManagerClient, id: string): Promise<Reading> {
  const before = performance.now();
  const status = await manager.get(id);
  return { at: (before + performance.now()) / 2, status };
}

/** Polls every `everyMs` until `done` holds; throws after `timeoutMs` or on a final state. */
export async function waitFor(
  manager: ManagerClient,
  id: string,
  what: string,
  done: (status: JobStatus) => boolean,
  timeoutMs: number,
  everyMs = 250,
): Promise<Reading> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const reading = await read(manager, id);
    if (done(reading.status)) return reading;
    if (isFinal(reading.status)) {
      throw new Error(`job ${id} ended ${reading.status.state} before ${what}`);
    }
    if (performance.now() > deadline) {
      throw new Error(
        `job ${id}: no ${what} after ${timeoutMs} ms: ${JSON.stringify(reading.status)}`,
      );
    }
    await sleep(everyMs);
  }
}

export interface WindowResult {
  /** Units per second over the window. */
  rate: number;
  units: number;
  seconds: number;
  /** The job had nothing left to do (or ended) before the window closed: the rate is low. */
  ranDry: boolean;
}

/**
 * The rate of `counter` over `seconds`, read every second (progress goes to `log`) so that a
 * job running out of work within the window is noticed.
 */
export async function measureWindow(
  manager: ManagerClient,
  id: string,
  seconds: number,
  counter: (status: JobStatus) => number,
  log: (message: string) => void,
): Promise<WindowResult> {
  const first = await read(manager, id);
  const end = first.at + seconds * 1000;
  let last = first;
  let ranDry = false;
  let lastLog = first.at;
  while (last.at < end) {
    await sleep(Math.min(1000, Math.max(0, end - performance.now())));
    last = await read(manager, id);
    if (isFinal(last.status) || pending(last.status) === 0) ranDry = true;
    if (last.at - lastLog >= 10_000) {
      lastLog = last.at;
      const so = (counter(last.status) - counter(first.status)) / ((last.at - first.at) / 1000);
      log(`  window ${((last.at - first.at) / 1000).toFixed(0)} s: ${so.toFixed(1)}/s so far`);
    }
  }
  const units = counter(last.status) - counter(first.status);
  const span = (last.at - first.at) / 1000;
  return { rate: units / span, units, seconds: span, ranDry };
}

export interface Finished {
  status: JobStatus;
  /** Set when the bench cancelled the job: how long the cancel took, what settled meanwhile. */
  cancel?: { seconds: number; settled_after: number };
}

/**
 * Cancels the job unless it already ended, and waits until it has (a drain may take a while:
 * in-flight work finishes).
 */
export async function finish(manager: ManagerClient, id: string): Promise<Finished> {
  const now = await read(manager, id);
  if (isFinal(now.status)) return { status: now.status };
  try {
    await manager.cancel(id);
  } catch (err) {
    // It may have ended between the read and the cancel; anything else is a real failure.
    if (!isFinal(await manager.get(id))) throw err;
  }
  const end = await waitFor(manager, id, 'the cancel', isFinal, 300_000, 500);
  const cancel = {
    seconds: Math.round((end.at - now.at) / 100) / 10,
    settled_after: settled(end.status) - settled(now.status),
  };
  return { status: end.status, cancel };
}
