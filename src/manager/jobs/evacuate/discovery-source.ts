/**
 * The pipeline's ObjectSource over discovery (src/discovery): Moray and buckets-mdapi shards
 * scanned as one, their events mapped to the store's shapes, and each shard's position kept as
 * its checkpoint cursor (checked when read back: the database is a boundary).
 */
import Type from 'typebox';
import { Compile } from 'typebox/compile';
import type { StorageNode } from '../../../api/common.ts';
import {
  type BucketsResume,
  type DiscoveryOptions,
  discoverObjects,
  keyExcluder,
  type ShardCheckpoints,
  type ShardSource,
} from '../../../discovery/index.ts';
import { RebalancerError } from '../../../errors.ts';
import type { DiscoveryCheckpoint } from '../../store/index.ts';
import type { ObjectSource, SourceEvent } from './types.ts';

const Position = Type.Object({
  owner: Type.String(),
  bucket_id: Type.String(),
  name: Type.String(),
  bucket: Type.Optional(Type.String()),
});
const ColumnCursor = Type.Object({
  through: Type.Optional(Type.String()),
  done: Type.Optional(Type.Boolean()),
});
/**
 * A stored cursor: checked when read back (the database is a boundary). Either column may be
 * absent: `_idx` has none until its scan writes one (a record over a union of literal keys would
 * require both).
 */
const MorayCursor = Compile(
  Type.Object(
    { _id: Type.Optional(ColumnCursor), _idx: Type.Optional(ColumnCursor) },
    { additionalProperties: false },
  ),
);
const BucketsCursor = Compile(
  Type.Object({
    mode: Type.Union([Type.Literal('buckets-direct-db'), Type.Literal('buckets-rpc')]),
    vnode: Type.Integer({ minimum: 0 }),
    done: Type.Boolean(),
    after: Type.Optional(Position),
  }),
);

/** A stored checkpoint cursor that is not what this source wrote. */
export class CheckpointCursorError extends RebalancerError {
  override readonly name = 'CheckpointCursorError';
  readonly code = 'checkpoint_cursor_invalid';
}

function cursorOf<T>(checker: { Check(v: unknown): v is T }, c: DiscoveryCheckpoint): T {
  const value: unknown = JSON.parse(c.cursor ?? 'null');
  if (!checker.Check(value)) {
    throw new CheckpointCursorError(
      `${c.tier ?? 'moray'} shard ${c.shard}: bad cursor ${c.cursor}`,
    );
  }
  return value;
}

/**
 * Discovery over the configured shards, Moray's and buckets-mdapi's; a Moray shard's cursor is
 * its ShardCheckpoints JSON, a buckets shard's its last position (tier `buckets`).
 */
export class DiscoveryObjectSource implements ObjectSource {
  private readonly exclude: (key: string) => string | undefined;

  constructor(
    private readonly shards: () => readonly ShardSource[],
    private readonly options: Omit<
      DiscoveryOptions,
      'shark' | 'shards' | 'checkpoints' | 'bucketsCheckpoints' | 'signal'
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
    const buckets = new Map<number, BucketsResume>();
    for (const c of request.resume) {
      if (c.cursor === null) continue;
      if (c.tier === 'buckets') buckets.set(c.shard, cursorOf(BucketsCursor, c));
      else state.set(c.shard, cursorOf(MorayCursor, c));
    }
    const discovery = discoverObjects({
      ...this.options,
      shark: request.shark.manta_storage_id,
      shards: this.shards(),
      checkpoints: state,
      bucketsCheckpoints: buckets,
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
              ...(event.tier === 'buckets' ? { tier: 'buckets' as const } : {}),
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
          yield {
            kind: 'malformed',
            ...(event.tier === 'buckets' ? { tier: 'buckets' as const } : {}),
            shard: event.shard,
            key: event.key,
            problem: event.problem,
          };
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
        case 'buckets-checkpoint': {
          const resume: BucketsResume = {
            mode: event.mode,
            vnode: event.vnode,
            done: event.done,
            ...(event.after === undefined ? {} : { after: event.after }),
          };
          // `done` is the vnode's: discovery goes on to the next vnode from this cursor.
          yield {
            kind: 'checkpoint',
            checkpoint: {
              tier: 'buckets',
              shard: event.shard,
              cursor: JSON.stringify(resume),
              done: false,
            },
          };
          break;
        }
      }
    }
  }
}
