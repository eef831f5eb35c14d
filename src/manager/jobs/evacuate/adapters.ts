/**
 * The pipeline's interfaces implemented over the project's modules: discovery (src/discovery),
 * the destination picker (src/storinfo) and the Moray client (src/moray).
 */
import type { StorageNode } from '../../../api/common.ts';
import type { ShardSource } from '../../../discovery/index.ts';
import {
  type DiscoveryOptions,
  discoverObjects,
  keyExcluder,
  type ShardCheckpoints,
} from '../../../discovery/index.ts';
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
import type { DiscoveryCheckpoint } from '../../store/index.ts';
import {
  type DestinationChooser,
  type LiveRecord,
  MetadataEtagMismatchError,
  MetadataObjectNotFoundError,
  type MetadataUpdate,
  type MetadataWriter,
  type ObjectSource,
  type Placement,
  type PlacementAvoid,
  type SourceEvent,
  type UnusableRecord,
} from './types.ts';

/** Discovery over the configured shards; a shard's checkpoint cursor is its ShardCheckpoints JSON. */
export class DiscoveryObjectSource implements ObjectSource {
  private readonly exclude: (key: string) => string | undefined;

  constructor(
    private readonly shards: () => readonly ShardSource[],
    private readonly options: Omit<
      DiscoveryOptions,
      'shark' | 'shards' | 'checkpoints' | 'signal'
    > = {},
  ) {
    this.exclude = keyExcluder(options.excludeKeyPrefixes ?? [], options.excludeMatch);
  }

  excludes(key: string): boolean {
    return this.exclude(key) !== undefined;
  }

  async *scan(request: {
    shark: StorageNode;
    resume: readonly DiscoveryCheckpoint[];
    signal: AbortSignal;
  }): AsyncIterable<SourceEvent> {
    const state = new Map<number, ShardCheckpoints>();
    for (const c of request.resume) {
      if (c.cursor !== null) state.set(c.shard, JSON.parse(c.cursor) as ShardCheckpoints);
    }
    const discovery = discoverObjects({
      ...this.options,
      shark: request.shark.manta_storage_id,
      shards: this.shards(),
      checkpoints: state,
      signal: request.signal,
    });
    for await (const event of discovery) {
      switch (event.kind) {
        case 'object':
          yield {
            kind: 'object',
            object: {
              id: event.id,
              key: event.key,
              shard: event.shard,
              etag: event.etag,
              object: { ...event.value },
            },
          };
          break;
        case 'excluded':
          yield {
            kind: 'excluded',
            object: {
              id: event.id,
              key: event.key,
              shard: event.shard,
              etag: '',
              object: undefined,
            },
          };
          break;
        case 'malformed':
          yield { kind: 'malformed', shard: event.shard, key: event.key, problem: event.problem };
          break;
        case 'checkpoint': {
          const shard = { ...state.get(event.shard) };
          shard[event.column] = {
            ...(event.through === undefined ? {} : { through: event.through }),
            done: event.done,
          };
          state.set(event.shard, shard);
          // Discovery itself skips finished columns, so the shard is never marked done here.
          yield {
            kind: 'checkpoint',
            checkpoint: { shard: event.shard, cursor: JSON.stringify(shard), done: false },
          };
          break;
        }
      }
    }
  }
}

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

  async putBatch(
    shard: number,
    updates: readonly MetadataUpdate[],
    signal: AbortSignal,
  ): Promise<void> {
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
  }

  async getObject(
    shard: number,
    key: string,
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
