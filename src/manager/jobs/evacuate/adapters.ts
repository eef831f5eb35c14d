/**
 * The pipeline's interfaces implemented over the project's modules: the destination picker
 * (src/storinfo) and the Moray client (src/moray). Discovery's is discovery-source.ts.
 */

import type { StorageNode } from '../../../api/common.ts';
import { RebalancerError } from '../../../errors.ts';
import { isMantaObjectValue, mantaObjectProblem } from '../../../manta/index.ts';
import {
  EtagConflictError,
  type MorayClient,
  MorayConnectionError,
  MorayTimeoutError,
  ObjectNotFoundError,
} from '../../../moray/index.ts';
import type { DestinationPicker, Reservations } from '../../../storinfo/index.ts';
import {
  type DestinationChooser,
  type LiveRecord,
  MetadataEtagMismatchError,
  MetadataObjectNotFoundError,
  type MetadataUpdate,
  type MetadataWriter,
  type Placement,
  type PlacementAvoid,
  type RecordRef,
  type UnusableRecord,
} from './types.ts';

/** The storinfo destination picker, reserving each object's bytes under its id. */
export class PickerChooser implements DestinationChooser {
  /** `prefix` scopes the job's reservation keys and is their group. */
  constructor(
    private readonly picker: DestinationPicker,
    private readonly reservations: Reservations,
    private readonly prefix: string,
  ) {}

  choose(
    object: { id: string; sharks: readonly StorageNode[]; sizeBytes: number },
    avoid: PlacementAvoid,
  ): Placement {
    const decision = this.picker.place(object, `${this.prefix}${object.id}`, this.prefix, avoid);
    if (decision.outcome === 'placed') {
      return {
        outcome: 'placed',
        shark: {
          manta_storage_id: decision.shark.manta_storage_id,
          datacenter: decision.shark.datacenter,
        },
      };
    }
    if (decision.outcome === 'no_destinations') return { outcome: 'wait' };
    if (decision.outcome === 'defer') return { outcome: 'defer' };
    return { outcome: 'skip', reason: decision.reason };
  }

  restore(dest: StorageNode, objects: readonly { id: string; sizeBytes: number }[]): void {
    for (const o of objects) {
      const key = `${this.prefix}${o.id}`;
      // Still held when the job resumes in the same process (its run was interrupted).
      if (!this.reservations.has(key)) {
        this.reservations.reserve(key, dest.manta_storage_id, o.sizeBytes, this.prefix);
      }
    }
  }

  release(objectIds: readonly string[]): void {
    for (const id of objectIds) this.reservations.release(`${this.prefix}${id}`);
  }

  commit(objectIds: readonly string[]): void {
    for (const id of objectIds) this.reservations.commit(`${this.prefix}${id}`);
  }

  releaseAll(): void {
    this.reservations.releaseGroup(this.prefix);
  }
}

/** A shard that just failed to answer is not asked again before its cool-down ends. */
export class ShardUnavailableError extends RebalancerError {
  override readonly name = 'ShardUnavailableError';
  readonly code = 'shard_unavailable';
}

/**
 * Etag-conditional `putObject` into bucket `manta` of the object's shard (manager.md §4.9).
 * When a shard cannot be reached, its updates fail fast for `coolDownMs` (one probe at a time
 * gets through) instead of each waiting out the client's reconnect backoff: otherwise the
 * objects of a down shard hold every metadata thread and no other shard's object is updated.
 */
export class MorayMetadataWriter implements MetadataWriter {
  private readonly downUntil = new Map<number, number>();
  private readonly probing = new Set<number>();

  constructor(
    private readonly clientFor: (shard: number) => MorayClient,
    private readonly coolDownMs = 1000,
  ) {}

  async putObject(update: MetadataUpdate, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    try {
      await this.guarded(update.shard, () =>
        this.clientFor(update.shard).putObject('manta', update.key, update.value, {
          etag: update.etag,
        }),
      );
    } catch (err) {
      if (err instanceof EtagConflictError) {
        throw err.actual === 'null'
          ? new MetadataObjectNotFoundError(`${update.key}: object no longer exists`, {
              cause: err,
            })
          : new MetadataEtagMismatchError(
              `${update.key}: etag ${err.actual}, expected ${update.etag}`,
              {
                cause: err,
              },
            );
      }
      if (err instanceof ObjectNotFoundError) {
        throw new MetadataObjectNotFoundError(`${update.key}: object no longer exists`, {
          cause: err,
        });
      }
      throw err;
    }
  }

  /** One atomic Moray `batch`: all applied (resolves with none left) or none (rejects). */
  async putBatch(
    shard: number,
    updates: readonly MetadataUpdate[],
    signal: AbortSignal,
  ): Promise<readonly MetadataUpdate[]> {
    signal.throwIfAborted();
    await this.guarded(shard, () =>
      this.clientFor(shard).batch(
        updates.map((u) => ({
          bucket: 'manta',
          key: u.key,
          value: u.value,
          options: { etag: u.etag },
        })),
      ),
    );
    return [];
  }

  async getObject(
    { shard, key }: RecordRef,
    signal: AbortSignal,
  ): Promise<LiveRecord | UnusableRecord | undefined> {
    signal.throwIfAborted();
    try {
      const found = await this.guarded(shard, () => this.clientFor(shard).getObject('manta', key));
      const etag = found._etag;
      return isMantaObjectValue(found.value)
        ? { value: found.value, etag }
        : { problem: mantaObjectProblem(found.value), etag };
    } catch (err) {
      if (err instanceof ObjectNotFoundError) return undefined;
      throw err;
    }
  }

  private async guarded<T>(shard: number, call: () => Promise<T>): Promise<T> {
    const down = this.downUntil.get(shard);
    const probe = down !== undefined;
    if (probe) {
      if (Date.now() < down || this.probing.has(shard)) {
        throw new ShardUnavailableError(`shard ${shard} is unreachable (cooling down)`);
      }
      this.probing.add(shard);
    }
    try {
      const result = await call();
      this.downUntil.delete(shard);
      return result;
    } catch (err) {
      if (err instanceof MorayConnectionError || err instanceof MorayTimeoutError) {
        this.downUntil.set(shard, Date.now() + this.coolDownMs);
      } else {
        // The shard answered (an etag conflict, say): it is up.
        this.downUntil.delete(shard);
      }
      throw err;
    } finally {
      if (probe) this.probing.delete(shard);
    }
  }
}
