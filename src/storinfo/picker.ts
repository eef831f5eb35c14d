/**
 * Destination choice for one object of an evacuate job (manager.md §4.4, peers.md §1.7).
 *
 * Rules, all enforced for every choice:
 *  - never the evacuated shark, never a shark that already holds a copy;
 *  - L's datacenter rule: a destination outside the evacuated shark's datacenter is allowed
 *    only when no copy already lives in that datacenter;
 *  - blocked sharks and datacenters, nodes under `minAvailableMb` (L: 1000) are never used;
 *  - the object's bytes fit under `max_fill_percentage` net of current reservations (IMP-1,
 *    §13.6: L ignored space when choosing).
 * Spread (as L): per round, the eligible sharks are ordered by free bytes, the top `maxSharks`
 * are shuffled and tried first, rotating the starting point per object; unlike L the rest are
 * tried next rather than skipping the object, and when nothing fits the most relevant reason is
 * returned rather than the last one examined.
 */
import type { StorageNode } from '../api/common.ts';
import { assertMaxFillPercentage, fillLimitedCapacityBytes } from './capacity.ts';
import type { StorinfoNode } from './node.ts';
import type { StorinfoSnapshot } from './poller.ts';
import { createRandom, type Random, shuffleInPlace } from './random.ts';
import type { Reservations } from './reservations.ts';

/** What the picker needs to know about an object. */
export interface PlacementObject {
  readonly sharks: readonly StorageNode[];
  /** contentLength in bytes. */
  readonly sizeBytes: number;
}

/** The ObjectSkippedReason strings (manager.md §4.15) the picker can produce. */
export type PlacementSkipReason =
  | 'destination_insufficient_space'
  | 'object_already_in_datacenter'
  | 'object_already_on_dest_shark';

export type PlacementDecision =
  | { readonly outcome: 'placed'; readonly shark: StorinfoNode }
  | {
      readonly outcome: 'skip';
      readonly reason: PlacementSkipReason;
      /**
       * True when the reason is space and some candidate would fit once our own
       * reservations are released: waiting may help, unlike a rule violation.
       */
      readonly spaceMayFree: boolean;
    }
  /** No usable destination at all (no snapshot, or every node filtered out): pause, do not skip. */
  | { readonly outcome: 'no_destinations' }
  /** A destination would do, but every such one is to be avoided for now: try again later. */
  | { readonly outcome: 'defer' };

/** Destinations a choice must not use beyond the picker's own rules. */
export interface PlacementAvoid {
  /** Never destinations, like the evacuated shark (e.g. sharks other jobs are evacuating). */
  readonly never?: ReadonlySet<string>;
  /** Not now (e.g. an agent not answering, or with a full backlog): the object waits for them. */
  readonly later?: ReadonlySet<string>;
}

export interface DestinationPickerOptions {
  /** The shark being emptied. */
  evacuated: StorageNode;
  /** Current storinfo snapshot (e.g. `() => poller.snapshot()`). */
  snapshot: () => StorinfoSnapshot | undefined;
  reservations: Reservations;
  /** 0 < p <= 100; default 100 (L's default). */
  maxFillPercentage?: number;
  /** Nodes reporting less than this many MiB free are not used. Default 1000 (L). */
  minAvailableMb?: number;
  /** How many of the emptiest sharks are shuffled and preferred. Default 5 (L `max_sharks`). */
  maxSharks?: number;
  /** Picks between recomputing the ordering. Default 250 (L: 50 tasks × 5 sharks per round). */
  roundSize?: number;
  blockedSharks?: Iterable<string>;
  blockedDatacenters?: Iterable<string>;
  /** Seed for the shuffle (tests, benchmarks); random when absent. */
  seed?: number;
}

interface Candidate {
  readonly node: StorinfoNode;
  readonly id: string;
  readonly datacenter: string;
  /** Bytes the node may take under the fill limit, before reservations. */
  readonly capacityBytes: number;
}

export class DestinationPicker {
  readonly evacuated: StorageNode;
  readonly maxFillPercentage: number;
  readonly minAvailableMb: number;
  readonly maxSharks: number;
  readonly roundSize: number;
  private readonly source: () => StorinfoSnapshot | undefined;
  private readonly reservations: Reservations;
  private readonly blockedSharks: ReadonlySet<string>;
  private readonly blockedDatacenters: ReadonlySet<string>;
  private readonly random: Random;
  private snapshotVersion = -1;
  private eligible: Candidate[] = [];
  /** Shuffled top `maxSharks`, then the rest by free space. */
  private order: Candidate[] = [];
  private topCount = 0;
  private picksInRound = 0;

  constructor(options: DestinationPickerOptions) {
    this.evacuated = options.evacuated;
    this.source = options.snapshot;
    this.reservations = options.reservations;
    this.maxFillPercentage = options.maxFillPercentage ?? 100;
    assertMaxFillPercentage(this.maxFillPercentage);
    this.minAvailableMb = options.minAvailableMb ?? 1000;
    this.maxSharks = options.maxSharks ?? 5;
    this.roundSize = options.roundSize ?? 250;
    if (!(Number.isInteger(this.maxSharks) && this.maxSharks >= 1)) {
      throw new RangeError(`maxSharks must be a positive integer: ${this.maxSharks}`);
    }
    if (!(Number.isInteger(this.roundSize) && this.roundSize >= 1)) {
      throw new RangeError(`roundSize must be a positive integer: ${this.roundSize}`);
    }
    this.blockedSharks = new Set(options.blockedSharks ?? []);
    this.blockedDatacenters = new Set(options.blockedDatacenters ?? []);
    this.random = createRandom(options.seed);
  }

  /** Chooses a destination without reserving anything. */
  pick(object: PlacementObject, avoid: PlacementAvoid = {}): PlacementDecision {
    if (!(Number.isSafeInteger(object.sizeBytes) && object.sizeBytes >= 0)) {
      throw new RangeError(`object size must be a non-negative integer: ${object.sizeBytes}`);
    }
    this.refresh();
    if (this.order.length === 0) return { outcome: 'no_destinations' };
    const top = this.topCount;
    const start = this.picksInRound % top;
    this.picksInRound++;
    let sawSpace = false;
    let spaceMayFree = false;
    let sawDatacenter = false;
    let sawLater = false;
    for (let i = 0; i < this.order.length; i++) {
      const c = this.order[i < top ? (start + i) % top : i] as Candidate;
      if (avoid.never?.has(c.id)) continue;
      const rule = this.ruleViolation(c, object.sharks);
      if (rule === 'object_already_on_dest_shark') continue;
      if (rule === 'object_already_in_datacenter') {
        sawDatacenter = true;
        continue;
      }
      const reserved = this.reservations.reservedBytes(c.id);
      if (object.sizeBytes <= c.capacityBytes - reserved) {
        if (!avoid.later?.has(c.id)) return { outcome: 'placed', shark: c.node };
        sawLater = true;
        continue;
      }
      sawSpace = true;
      if (object.sizeBytes <= c.capacityBytes) spaceMayFree = true;
    }
    if (sawLater) return { outcome: 'defer' };
    if (sawSpace)
      return { outcome: 'skip', reason: 'destination_insufficient_space', spaceMayFree };
    return {
      outcome: 'skip',
      reason: sawDatacenter ? 'object_already_in_datacenter' : 'object_already_on_dest_shark',
      spaceMayFree: false,
    };
  }

  /**
   * Chooses a destination and reserves the object's bytes on it under `key` (and `group`).
   * The caller must later release or commit `key` on every path.
   */
  place(
    object: PlacementObject,
    key: string,
    group?: string,
    avoid: PlacementAvoid = {},
  ): PlacementDecision {
    const decision = this.pick(object, avoid);
    if (decision.outcome === 'placed') {
      this.reservations.reserve(key, decision.shark.manta_storage_id, object.sizeBytes, group);
    }
    return decision;
  }

  /**
   * Bytes `shark` may still receive: its fill-limited capacity minus reservations; 0 for a
   * shark that is not an eligible destination (unknown, blocked, below the minimum).
   */
  freeBytes(shark: string): number {
    this.refresh();
    const c = this.eligible.find((e) => e.id === shark);
    return c ? Math.max(0, c.capacityBytes - this.reservations.reservedBytes(shark)) : 0;
  }

  /** The eligible destinations of the current snapshot (after every filter). */
  destinations(): StorinfoNode[] {
    this.refresh();
    return this.eligible.map((c) => c.node);
  }

  private ruleViolation(c: Candidate, sharks: readonly StorageNode[]): PlacementSkipReason | null {
    const crossDatacenter = c.datacenter !== this.evacuated.datacenter;
    let inDatacenter = false;
    for (const copy of sharks) {
      if (copy.manta_storage_id === c.id) return 'object_already_on_dest_shark';
      if (crossDatacenter && copy.datacenter === c.datacenter) inDatacenter = true;
    }
    return inDatacenter ? 'object_already_in_datacenter' : null;
  }

  /** New snapshot → new eligible set; every `roundSize` picks → new ordering. */
  private refresh(): void {
    const snapshot = this.source();
    const version = snapshot?.version ?? 0;
    if (version !== this.snapshotVersion) {
      this.snapshotVersion = version;
      if (snapshot) this.reservations.settle(snapshot.nodes);
      this.eligible = this.filter(snapshot?.nodes ?? []);
      this.picksInRound = this.roundSize;
    }
    if (this.picksInRound >= this.roundSize) this.newRound();
  }

  private filter(nodes: readonly StorinfoNode[]): Candidate[] {
    const out: Candidate[] = [];
    for (const node of nodes) {
      const id = node.manta_storage_id;
      if (id === this.evacuated.manta_storage_id) continue;
      if (this.blockedSharks.has(id) || this.blockedDatacenters.has(node.datacenter)) continue;
      if (node.availableMB < this.minAvailableMb) continue;
      const capacityBytes = fillLimitedCapacityBytes(node, this.maxFillPercentage);
      if (capacityBytes <= 0) continue;
      out.push({ node, id, datacenter: node.datacenter, capacityBytes });
    }
    return out;
  }

  private newRound(): void {
    this.picksInRound = 0;
    const free = new Map<Candidate, number>();
    for (const c of this.eligible) {
      free.set(c, c.capacityBytes - this.reservations.reservedBytes(c.id));
    }
    // Emptiest first; ties by id so the order (hence a seeded run) is reproducible.
    const sorted = [...this.eligible].sort(
      (a, b) => (free.get(b) ?? 0) - (free.get(a) ?? 0) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    );
    this.topCount = Math.min(this.maxSharks, sorted.length);
    const top = shuffleInPlace(sorted.slice(0, this.topCount), this.random);
    this.order = top.concat(sorted.slice(this.topCount));
  }
}
