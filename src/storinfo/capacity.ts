/**
 * How many bytes a destination may still receive under `max_fill_percentage` (IMP-1;
 * manager.md §4.4 "Available space"), before subtracting our own reservations.
 */
import type { StorinfoNode } from './node.ts';

/** storinfo's "MB" are MiB: minnow reports floor(free bytes / 1 MiB). */
export const MIB = 1024 * 1024;

/** Throws unless `pct` is a usable max_fill_percentage (0 < pct <= 100). */
export function assertMaxFillPercentage(pct: number): void {
  if (!(Number.isFinite(pct) && pct > 0 && pct <= 100)) {
    throw new RangeError(`max_fill_percentage must be in (0, 100]: ${pct}`);
  }
}

/**
 * The spec's formula in MiB, with the divisions done on integers so the floors are exact:
 * with pu = percentUsed and mf = max_fill_percentage (both in %), if pu >= mf → 0; else
 * total = avail·100/(100−pu), maxFill = floor(total·mf/100) = floor(avail·mf/(100−pu)),
 * used = floor(total − avail) = floor(avail·pu/(100−pu)); result = max(0, maxFill − used).
 * Worked example (spec): avail 900, pu 10, mf 80 → maxFill 800, used 100 → 700.
 */
export function fillLimitedCapacityMb(
  availableMb: number,
  percentUsed: number,
  maxFillPercentage: number,
): number {
  if (percentUsed >= maxFillPercentage || percentUsed >= 100) return 0;
  const free = 100 - percentUsed;
  const maxFill = Math.floor((availableMb * maxFillPercentage) / free);
  const used = Math.floor((availableMb * percentUsed) / free);
  return used > maxFill ? 0 : maxFill - used;
}

/** Bytes `node` may receive in total under the fill limit (reservations not subtracted). */
export function fillLimitedCapacityBytes(node: StorinfoNode, maxFillPercentage: number): number {
  return fillLimitedCapacityMb(node.availableMB, node.percentUsed, maxFillPercentage) * MIB;
}
