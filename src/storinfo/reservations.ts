/**
 * Space promised to destination sharks, in bytes (fixes manager.md §13.5: L counted whole MiB,
 * so objects under 1 MiB cost nothing, and leaked `assigned_mb` when the checker skipped an
 * assignment).
 *
 * Life of a reservation, keyed by a caller-chosen string (e.g. `<assignment>/<objectId>`):
 *   reserve → release   the copy will not happen (skip, failure, abandoned assignment), or
 *   reserve → commit    the copy landed; the bytes stay counted until a storinfo record of that
 *                       shark taken after the commit shows them (`settle`), then drop out.
 * Every path ends the reservation exactly once; totals are sums of live entries, so they
 * cannot go negative, and `outstanding()` lists whatever was never ended (a leak).
 *
 * An aggregate reservation (`add`) is one pending entry growing with every object placed on its
 * shark: a dry run accounts its placements in memory that follows its destinations, not its
 * objects, and releases them at its end.
 */

import { RebalancerError } from '../errors.ts';
import type { StorinfoNode } from './node.ts';

export interface Reservation {
  readonly key: string;
  readonly shark: string;
  readonly bytes: number;
  /** Optional grouping (an assignment id) for releasing/committing many at once. */
  readonly group: string | undefined;
  readonly reservedAt: number;
  /** Set by `commit`; undefined while the copy is still pending. */
  committedAt: number | undefined;
}

export class ReservationError extends RebalancerError {
  override readonly name = 'ReservationError';
  readonly code = 'reservation_failed';
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`reservation ${JSON.stringify(key)}: ${message}`);
  }
}

export interface ReservationStats {
  /** Reservations not yet released or committed. */
  readonly pending: number;
  /** Committed reservations waiting for storinfo to show the bytes. */
  readonly committed: number;
  readonly bytes: number;
  /** Releases/commits of keys that were not (or no longer) reserved: caller bugs, counted. */
  readonly unknownEnds: number;
}

export interface ReservationsOptions {
  now?: () => number;
  /**
   * A committed reservation is dropped once the shark's storinfo `timestamp` is at least this
   * long after the commit (covers clock skew between the manager and minnow). Default 5 s.
   */
  settleMarginMs?: number;
}

export class Reservations {
  private readonly entries = new Map<string, Reservation>();
  private readonly bySharkBytes = new Map<string, number>();
  private readonly bySharkCount = new Map<string, number>();
  private readonly groups = new Map<string, Set<string>>();
  private readonly now: () => number;
  private readonly settleMarginMs: number;
  private total = 0;
  private pendingCount = 0;
  private unknownEnds = 0;

  constructor(options: ReservationsOptions = {}) {
    this.now = options.now ?? Date.now;
    this.settleMarginMs = options.settleMarginMs ?? 5000;
  }

  /** Promises `bytes` of `shark` to `key`. Throws if the key is already reserved. */
  reserve(key: string, shark: string, bytes: number, group?: string): void {
    if (!Number.isSafeInteger(bytes) || bytes < 0) {
      throw new ReservationError(key, `bytes must be a non-negative integer: ${bytes}`);
    }
    const existing = this.entries.get(key);
    if (existing?.committedAt !== undefined) this.retire(existing);
    else if (existing) throw new ReservationError(key, 'already reserved');
    this.entries.set(key, {
      key,
      shark,
      bytes,
      group,
      reservedAt: this.now(),
      committedAt: undefined,
    });
    this.bySharkBytes.set(shark, (this.bySharkBytes.get(shark) ?? 0) + bytes);
    this.bySharkCount.set(shark, (this.bySharkCount.get(shark) ?? 0) + 1);
    this.total += bytes;
    this.pendingCount++;
    if (group !== undefined) {
      const keys = this.groups.get(group);
      if (keys) keys.add(key);
      else this.groups.set(group, new Set([key]));
    }
  }

  /**
   * Adds `bytes` of `shark` to the pending reservation `key`, reserving it first if needed. The
   * key must keep its shark and group, and must not be committed.
   */
  add(key: string, shark: string, bytes: number, group?: string): void {
    const existing = this.entries.get(key);
    if (!existing) {
      this.reserve(key, shark, bytes, group);
      return;
    }
    if (!Number.isSafeInteger(bytes) || bytes < 0) {
      throw new ReservationError(key, `bytes must be a non-negative integer: ${bytes}`);
    }
    if (existing.committedAt !== undefined) throw new ReservationError(key, 'already committed');
    if (existing.shark !== shark || existing.group !== group) {
      throw new ReservationError(key, `held on ${existing.shark}, not ${shark}, or another group`);
    }
    this.entries.set(key, { ...existing, bytes: existing.bytes + bytes });
    this.bySharkBytes.set(shark, (this.bySharkBytes.get(shark) ?? 0) + bytes);
    this.total += bytes;
  }

  /** Whether `key` holds a reservation (pending or committed). */
  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** Ends a reservation whose copy will not happen. False (and counted) if `key` is unknown. */
  release(key: string): boolean {
    const entry = this.entries.get(key);
    if (!entry) {
      this.unknownEnds++;
      return false;
    }
    this.remove(entry);
    return true;
  }

  /**
   * Marks the copy as landed. The bytes keep counting until `settle` sees a newer storinfo
   * record for the shark. False (and counted) if `key` is unknown or already committed.
   */
  commit(key: string): boolean {
    const entry = this.entries.get(key);
    if (!entry || entry.committedAt !== undefined) {
      this.unknownEnds++;
      return false;
    }
    entry.committedAt = this.now();
    this.pendingCount--;
    return true;
  }

  /** Releases every pending reservation of `group`; returns how many. */
  releaseGroup(group: string): number {
    let n = 0;
    for (const key of [...(this.groups.get(group) ?? [])]) {
      const entry = this.entries.get(key);
      if (entry && entry.committedAt === undefined) {
        this.remove(entry);
        n++;
      }
    }
    return n;
  }

  /** Commits every pending reservation of `group`; returns how many. */
  commitGroup(group: string): number {
    let n = 0;
    for (const key of this.groups.get(group) ?? []) {
      const entry = this.entries.get(key);
      if (entry && entry.committedAt === undefined) {
        entry.committedAt = this.now();
        this.pendingCount--;
        n++;
      }
    }
    return n;
  }

  /**
   * Drops committed reservations that `nodes` (a fresh storinfo listing) already account for:
   * the shark's record was taken after the commit (plus the margin). Returns how many.
   */
  settle(nodes: readonly StorinfoNode[]): number {
    if (this.pendingCount === this.entries.size) return 0;
    const heartbeat = new Map<string, number>();
    for (const node of nodes) heartbeat.set(node.manta_storage_id, node.timestamp);
    let n = 0;
    for (const entry of [...this.entries.values()]) {
      if (entry.committedAt === undefined) continue;
      const at = heartbeat.get(entry.shark);
      if (at !== undefined && at >= entry.committedAt + this.settleMarginMs) {
        this.remove(entry);
        n++;
      }
    }
    return n;
  }

  /** Bytes currently promised to `shark` (pending + committed-not-yet-visible). */
  reservedBytes(shark: string): number {
    return this.bySharkBytes.get(shark) ?? 0;
  }

  get(key: string): Reservation | undefined {
    return this.entries.get(key);
  }

  /** Bytes per shark, for status pages and metrics. */
  bySharks(): Map<string, { bytes: number; count: number }> {
    const out = new Map<string, { bytes: number; count: number }>();
    for (const [shark, bytes] of this.bySharkBytes) {
      out.set(shark, { bytes, count: this.bySharkCount.get(shark) ?? 0 });
    }
    return out;
  }

  stats(): ReservationStats {
    return {
      pending: this.pendingCount,
      committed: this.entries.size - this.pendingCount,
      bytes: this.total,
      unknownEnds: this.unknownEnds,
    };
  }

  /**
   * Pending reservations older than `olderThanMs` (default: all). At the end of a job anything
   * listed here is a leak: a path that neither released nor committed it.
   */
  outstanding(olderThanMs = 0): Reservation[] {
    const cutoff = this.now() - olderThanMs;
    const out: Reservation[] = [];
    for (const entry of this.entries.values()) {
      if (entry.committedAt === undefined && entry.reservedAt <= cutoff) out.push(entry);
    }
    return out;
  }

  /**
   * A landed copy's bytes keep counting under a key of their own, so the object's key is free
   * for a new placement (the object is placed again, e.g. after a conflict on its record).
   */
  private retire(entry: Reservation): void {
    let n = 0;
    let key = `${entry.key}\u0000landed`;
    while (this.entries.has(key)) key = `${entry.key}\u0000landed${++n}`;
    this.entries.delete(entry.key);
    const keys = entry.group === undefined ? undefined : this.groups.get(entry.group);
    keys?.delete(entry.key);
    keys?.add(key);
    this.entries.set(key, { ...entry, key });
  }

  private remove(entry: Reservation): void {
    this.entries.delete(entry.key);
    if (entry.committedAt === undefined) this.pendingCount--;
    const count = (this.bySharkCount.get(entry.shark) ?? 0) - 1;
    const bytes = (this.bySharkBytes.get(entry.shark) ?? 0) - entry.bytes;
    if (count < 0 || bytes < 0 || this.total - entry.bytes < 0) {
      // Unreachable by construction (totals are sums of live entries); fail loudly if not.
      throw new ReservationError(entry.key, `accounting went negative on ${entry.shark}`);
    }
    if (count === 0) {
      this.bySharkCount.delete(entry.shark);
      this.bySharkBytes.delete(entry.shark);
    } else {
      this.bySharkCount.set(entry.shark, count);
      this.bySharkBytes.set(entry.shark, bytes);
    }
    this.total -= entry.bytes;
    if (entry.group !== undefined) {
      const keys = this.groups.get(entry.group);
      keys?.delete(entry.key);
      if (keys?.size === 0) this.groups.delete(entry.group);
    }
  }
}
