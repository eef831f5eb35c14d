/**
 * What both buckets discovery modes share: which vnodes are left to scan when resuming from
 * a checkpoint, and the checkpoint events themselves.
 */
import type {
  BucketsCheckpoint,
  BucketsMode,
  BucketsPosition,
  BucketsResume,
} from './buckets-types.ts';

interface VnodeStart {
  readonly vnode: number;
  /** Resume after this object; from the vnode's start when undefined. */
  readonly after: BucketsPosition | undefined;
}

/**
 * The vnodes still to scan, ascending, each with where to start. A checkpoint means every
 * vnode below its own is done; its position is kept only when `mode` wrote it, since the
 * other mode walks a vnode in another order (that vnode is then read again from its start:
 * objects may repeat, none is missed).
 */
export function vnodePlan(
  vnodes: Iterable<number>,
  mode: BucketsMode,
  resume: BucketsResume | undefined,
): VnodeStart[] {
  const sorted = [...new Set(vnodes)].sort((a, b) => a - b);
  if (resume === undefined) return sorted.map((vnode) => ({ vnode, after: undefined }));
  const plan: VnodeStart[] = [];
  for (const vnode of sorted) {
    if (vnode < resume.vnode || (vnode === resume.vnode && resume.done)) continue;
    const after = vnode === resume.vnode && resume.mode === mode ? resume.after : undefined;
    plan.push({ vnode, after });
  }
  return plan;
}

export function bucketsCheckpoint(
  shard: number,
  mode: BucketsMode,
  vnode: number,
  after: BucketsPosition | undefined,
  done: boolean,
): BucketsCheckpoint {
  return { kind: 'buckets-checkpoint', tier: 'buckets', shard, mode, vnode, after, done };
}

/** A position for error messages: `after <owner>/<bucket>/<name>` or `from the start`. */
export function describePosition(after: BucketsPosition | undefined): string {
  if (after === undefined) return 'from the start';
  return `after ${after.owner}/${after.bucket ?? after.bucket_id}/${after.name}`;
}
