/**
 * A job's progress totals from its counters (issue 15): what has settled, what there is in
 * all, and, while discovery still runs, an estimate of the whole from the shark's newest plan
 * or from storinfo's used bytes, so the bar and the ETA are not measured against only what has
 * been found so far.
 */
import type { JobPlan } from '../../api/plan.ts';
import type { StorinfoNode } from '../../storinfo/node.ts';
import { type CountRow, type JobRecord, TERMINAL_JOB_STATES } from '../store/index.ts';

export interface Settled {
  /** Objects that reached an end: complete, skipped or error. */
  done: number;
  /** Bytes of the objects moved (complete). */
  bytesDone: number;
}

export interface Totals extends Settled {
  objects: number;
  /** Bytes of the objects moved or still to move (skipped and failed ones move nothing). */
  bytes: number;
  isEstimate: boolean;
}

/** What a shark holds, as far as the estimate needs it. */
export interface TotalsSources {
  latestPlanOf(shark: string): Promise<JobPlan | undefined>;
  sharkUsedBytes(storageId: string): number | undefined;
}

const SETTLED = ['complete', 'skipped', 'error'];
/** The statuses an object ends in: once every object is in one, nothing is left to move. */
export const SETTLED_STATUSES: ReadonlySet<string> = new Set(SETTLED);
const UNMOVED = ['skipped', 'error'];

export function settled(counts: readonly CountRow[]): Settled {
  let done = 0;
  let bytesDone = 0;
  for (const c of counts) {
    if (c.bucket === 'status' && SETTLED.includes(c.name)) done += c.count;
    if (c.bucket === 'bytes_status' && c.name === 'complete') bytesDone += c.count;
  }
  return { done, bytesDone };
}

/** Objects and bytes counted so far: every object of the job, duplicates apart. */
function counted(counts: readonly CountRow[]): { objects: number; bytes: number; all: number } {
  let objects = 0;
  let bytes = 0;
  let all = 0;
  for (const c of counts) {
    if (c.bucket === 'status') objects += c.count;
    if (c.bucket !== 'bytes_status') continue;
    all += c.count;
    if (!UNMOVED.includes(c.name)) bytes += c.count;
  }
  return { objects, bytes, all };
}

/**
 * The totals of `job`. Exact once discovery ended, and for a job that ended anyway (a job
 * cancelled or failed during discovery has only what it found). Before that: the larger of
 * what was counted and an estimate, capped by the job's max_objects.
 */
export async function totals(
  job: JobRecord,
  counts: readonly CountRow[],
  sources: TotalsSources,
): Promise<Totals> {
  const s = settled(counts);
  const c = counted(counts);
  const exact = { ...s, objects: c.objects, bytes: c.bytes, isEstimate: false };
  if (job.discoveredAt !== undefined || TERMINAL_JOB_STATES.includes(job.state)) return exact;
  const estimate = await estimateOf(job, c, sources);
  const cap = job.params.max_objects ?? Number.POSITIVE_INFINITY;
  return {
    ...s,
    objects: Math.max(c.objects, Math.min(cap, estimate?.objects ?? 0)),
    bytes: Math.max(c.bytes, estimate?.bytes ?? 0),
    isEstimate: true,
  };
}

async function estimateOf(
  job: JobRecord,
  c: { objects: number; all: number },
  sources: TotalsSources,
): Promise<{ objects: number; bytes: number } | undefined> {
  const shark = job.fromShark.manta_storage_id;
  const plan = await sources.latestPlanOf(shark);
  if (plan !== undefined) {
    return { objects: plan.move.objects + plan.cannot_move.objects, bytes: plan.move.bytes };
  }
  const used = sources.sharkUsedBytes(shark);
  // The mean size of what was found so far turns the shark's bytes into objects.
  if (used === undefined || c.objects === 0 || c.all === 0) return undefined;
  return { objects: Math.round(used / (c.all / c.objects)), bytes: used };
}

/**
 * The bytes a node uses, from storinfo's free MiB and integer percent used: free / (1 − used%)
 * is the filesystem's size. Unknown at 100% (no size follows) or with nothing free reported.
 */
export function usedBytesOf(
  node: Pick<StorinfoNode, 'availableMB' | 'percentUsed'>,
): number | undefined {
  if (node.percentUsed >= 100 || node.availableMB === 0) return undefined;
  const free = node.availableMB * 1024 * 1024;
  return Math.round((free * node.percentUsed) / (100 - node.percentUsed));
}
