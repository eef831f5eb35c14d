/**
 * How long a plan's move would take at the job's limits: the slowest of them bounds it —
 * objects at `objects_per_second`, bytes at `bytes_per_second`, and the busiest metadata shard's
 * updates at `metadata_updates_per_second` (a per-shard limit). Unlimited ones bound nothing.
 */
import type { JobLimits, LimitName } from '../../../api/limits.ts';

export interface Estimate {
  estimated_seconds: number | null;
  estimate_basis: string;
}

export function estimateDuration(
  limits: JobLimits,
  move: { objects: number; bytes: number },
  objectsPerShard: Iterable<number>,
): Estimate {
  if (move.objects === 0) return { estimated_seconds: 0, estimate_basis: 'nothing to move' };
  let busiestShard = 0;
  for (const n of objectsPerShard) busiestShard = Math.max(busiestShard, n);
  const work: [LimitName, number][] = [
    ['objects_per_second', move.objects],
    ['bytes_per_second', move.bytes],
    ['metadata_updates_per_second', busiestShard],
  ];
  let best: Estimate | undefined;
  for (const [name, amount] of work) {
    const rate = limits[name];
    if (rate === null) continue;
    const seconds = Math.ceil(amount / rate);
    if (best === undefined || seconds > (best.estimated_seconds ?? 0)) {
      best = { estimated_seconds: seconds, estimate_basis: name };
    }
  }
  return best ?? { estimated_seconds: null, estimate_basis: 'no limit set' };
}
