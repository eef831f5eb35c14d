/**
 * The storage nodes storinfo knows about and its cached, filtered view of them. A poll plays
 * both minnow (one record per node from the real bytes under its root, timestamped by its
 * heartbeat) and storinfo's Moray query (`percentUsed <= P` and `timestamp >= now - lag`,
 * sorted numerically by storage id). Changes to nodes show up at the next poll, as on a
 * real deployment; POST /flush polls at once.
 */

import { RebalancerError } from '../../errors.ts';
import type { Logger } from '../../log/index.ts';
import { compareStorageIds } from '../../manta/ids.ts';
import type { Heartbeat, SharkConfig, SharkPatch } from './config.ts';
import { buildRecord, type StorageNodeRecord } from './record.ts';
import { UsageTracker } from './usage.ts';

interface SharkState {
  config: SharkConfig;
  heartbeat: Heartbeat;
  /** Time of the last minnow heartbeat (for frozen/stale nodes, fixed). */
  lastHeartbeat: number;
  /** Incremental view of the bytes under config.root (one per node: it keeps a tree). */
  usage: UsageTracker;
  usedBytes: number;
}

export interface SharkView {
  readonly manta_storage_id: string;
  readonly datacenter: string;
  readonly root: string;
  readonly capacityBytes: number;
  readonly heartbeat: Heartbeat;
  readonly usedBytes: number;
  /** Whether the last poll lists it in /storagenodes. */
  readonly listed: boolean;
  readonly record: StorageNodeRecord | undefined;
}

export class UnknownSharkError extends RebalancerError {
  override readonly name = 'UnknownSharkError';
  readonly code = 'unknown_shark';
  constructor(readonly storageId: string) {
    super(`unknown storage node ${storageId}`);
  }
}

export class DuplicateSharkError extends RebalancerError {
  override readonly name = 'DuplicateSharkError';
  readonly code = 'duplicate_shark';
  constructor(readonly storageId: string) {
    super(`storage node ${storageId} already exists`);
  }
}

export interface FleetOptions {
  readonly maxOperatorUtilizationPct: number;
  readonly lagMs: number;
  readonly log: Logger;
  readonly now?: () => number;
}

export class Fleet {
  private readonly sharks = new Map<string, SharkState>();
  private records = new Map<string, StorageNodeRecord>();
  private served: StorageNodeRecord[] = [];
  private polling: Promise<void> = Promise.resolve();
  private readonly now: () => number;

  constructor(
    sharks: readonly SharkConfig[],
    private readonly options: FleetOptions,
  ) {
    this.now = options.now ?? Date.now;
    for (const s of sharks) this.add(s);
  }

  /** The list /storagenodes serves, as of the last successful poll. */
  list(): readonly StorageNodeRecord[] {
    return this.served;
  }

  get(storageId: string): StorageNodeRecord | undefined {
    return this.served.find((n) => n.manta_storage_id === storageId);
  }

  add(config: SharkConfig): void {
    if (this.sharks.has(config.manta_storage_id)) {
      throw new DuplicateSharkError(config.manta_storage_id);
    }
    this.sharks.set(config.manta_storage_id, {
      config: { ...config },
      heartbeat: 'live',
      lastHeartbeat: this.now(),
      usage: new UsageTracker(config.root),
      usedBytes: 0,
    });
  }

  remove(storageId: string): void {
    if (!this.sharks.delete(storageId)) throw new UnknownSharkError(storageId);
  }

  update(storageId: string, patch: SharkPatch): SharkView {
    const state = this.sharks.get(storageId);
    if (!state) throw new UnknownSharkError(storageId);
    if (patch.capacityBytes !== undefined) state.config.capacityBytes = patch.capacityBytes;
    if (patch.datacenter !== undefined) state.config.datacenter = patch.datacenter;
    if (patch.heartbeat !== undefined && patch.heartbeat !== state.heartbeat) {
      state.heartbeat = patch.heartbeat;
      const now = this.now();
      if (patch.heartbeat === 'stale') state.lastHeartbeat = now - this.options.lagMs - 1;
      else state.lastHeartbeat = now;
    }
    return this.view(state);
  }

  views(): SharkView[] {
    return [...this.sharks.values()]
      .map((s) => this.view(s))
      .sort((a, b) => compareStorageIds(a.manta_storage_id, b.manta_storage_id));
  }

  private view(s: SharkState): SharkView {
    const id = s.config.manta_storage_id;
    return {
      manta_storage_id: id,
      datacenter: s.config.datacenter,
      root: s.config.root,
      capacityBytes: s.config.capacityBytes,
      heartbeat: s.heartbeat,
      usedBytes: s.usedBytes,
      listed: this.served.some((n) => n.manta_storage_id === id),
      record: this.records.get(id),
    };
  }

  /**
   * Re-reads every node and replaces the served list. Polls run one at a time; a poll asked
   * for while one runs starts after it, so it sees everything written before the request.
   */
  poll(): Promise<void> {
    const next = this.polling.then(
      () => this.pollOnce(),
      () => this.pollOnce(),
    );
    this.polling = next;
    return next;
  }

  private async pollOnce(): Promise<void> {
    const states = [...this.sharks.values()];
    const used = await Promise.all(states.map((s) => s.usage.poll()));
    const now = this.now();
    const records = new Map<string, StorageNodeRecord>();
    states.forEach((s, i) => {
      s.usedBytes = used[i] ?? 0;
      if (s.heartbeat === 'live') s.lastHeartbeat = now;
      records.set(
        s.config.manta_storage_id,
        buildRecord(s.config, s.config.capacityBytes, s.usedBytes, s.lastHeartbeat),
      );
    });
    const { maxOperatorUtilizationPct, lagMs } = this.options;
    this.records = records;
    this.served = [...records.values()]
      .filter((r) => r.percentUsed <= maxOperatorUtilizationPct && r.timestamp >= now - lagMs)
      .sort((a, b) => compareStorageIds(a.manta_storage_id, b.manta_storage_id));
    this.options.log.debug({ listed: this.served.length, known: records.size }, 'storinfo polled');
  }
}
