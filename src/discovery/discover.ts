/**
 * Discovery ("sharkspotter"): every object with a copy on one shark, across all metadata
 * shards, as ONE async iterable. Shards are scanned in parallel (bounded); their events go
 * through a bounded channel, so a slow consumer slows the scan and memory stays bounded.
 * A shard that still fails after retries ends the iterable with a DiscoveryShardError naming
 * the shard and window — never a silently short result.
 */
import { BoundedQueue, QueueClosedError, RetriesExhaustedError, retry } from '../async/index.ts';
import type { Logger } from '../log/index.ts';
import { hasIdxColumn, scanDirectColumn } from './direct-scan.ts';
import { type ExcludeMatch, keyExcluder } from './exclude.ts';
import { scanMorayColumn } from './moray-scan.ts';
import { quotedShark } from './record.ts';
import { type RetryPolicy, retryPolicy } from './retry.ts';
import {
  type DiscoveryEvent,
  DiscoveryShardError,
  type IdColumn,
  type ShardCheckpoints,
  type ShardSource,
} from './types.ts';

export interface DiscoveryOptions {
  /** The `manta_storage_id` to look for. */
  shark: string;
  shards: readonly ShardSource[];
  /** Moray mode window size. Default 10,000 (L `md_read_chunk_size`; sharkspotter CLI: 1000). */
  chunkSize?: number;
  /**
   * Moray mode: windows requested ahead while the current one is handed over, so the shard
   * reads the next window while this process parses. Default 2.
   */
  windowsInFlight?: number;
  /** Direct-DB rows per FETCH and between checkpoints. Default 1000. */
  batchSize?: number;
  /** Shards scanned at once. Default 10 (L `max_md_read_threads`). */
  concurrency?: number;
  /** Events buffered between the scanners and the consumer. Default 100. */
  bufferSize?: number;
  /** `exclude_key_prefixes`; `[]` or `["none"]` disables. Default: none excluded. */
  excludeKeyPrefixes?: readonly string[];
  excludeMatch?: ExcludeMatch;
  /** Where to resume, per shard number. */
  checkpoints?: ReadonlyMap<number, ShardCheckpoints>;
  /** Retries per window (or stream resume) before the shard fails. Default 3. */
  retries?: number;
  retryDelayMs?: number;
  /** The `timeout` option of each `sql` window request. Default 10,000 ms (sharkspotter). */
  requestTimeoutMs?: number;
  signal?: AbortSignal;
  log?: Logger;
}

export interface ShardStats {
  state: 'pending' | 'scanning' | 'done' | 'failed' | 'cancelled';
  rows: number;
  objects: number;
  excluded: number;
  malformed: number;
  retries: number;
}

export class Discovery implements AsyncIterable<DiscoveryEvent> {
  private readonly options: DiscoveryOptions;
  private readonly perShard = new Map<number, ShardStats>();
  private started = false;

  constructor(options: DiscoveryOptions) {
    if (options.shark === '') throw new TypeError('discovery needs a shark');
    const seen = new Set<number>();
    for (const s of options.shards) {
      if (!Number.isSafeInteger(s.shard) || s.shard < 0) {
        throw new RangeError(`invalid shard number ${s.shard}`);
      }
      if (seen.has(s.shard)) throw new TypeError(`shard ${s.shard} listed twice`);
      seen.add(s.shard);
      this.perShard.set(s.shard, {
        state: 'pending',
        rows: 0,
        objects: 0,
        excluded: 0,
        malformed: 0,
        retries: 0,
      });
    }
    for (const [name, v] of [
      ['chunkSize', options.chunkSize],
      ['batchSize', options.batchSize],
      ['windowsInFlight', options.windowsInFlight],
      ['concurrency', options.concurrency],
      ['bufferSize', options.bufferSize],
    ] as const) {
      if (v !== undefined && !(Number.isSafeInteger(v) && v >= 1)) {
        throw new RangeError(`${name} must be a positive integer: ${v}`);
      }
    }
    this.options = options;
  }

  /** Counters per shard (live while the scan runs). */
  stats(): ReadonlyMap<number, Readonly<ShardStats>> {
    return this.perShard;
  }

  [Symbol.asyncIterator](): AsyncIterator<DiscoveryEvent> {
    if (this.started) throw new Error('a Discovery can be iterated only once');
    this.started = true;
    const abort = new AbortController();
    const external = this.options.signal;
    const onExternalAbort = () => abort.abort(external?.reason);
    external?.addEventListener('abort', onExternalAbort, { once: true });
    const channel = new BoundedQueue<DiscoveryEvent>(this.options.bufferSize ?? 100, {
      onConsumerStop: () => abort.abort(new QueueClosedError('discovery consumer stopped')),
    });
    void this.run(channel, abort).finally(() =>
      external?.removeEventListener('abort', onExternalAbort),
    );
    return channel[Symbol.asyncIterator]();
  }

  private async run(channel: BoundedQueue<DiscoveryEvent>, abort: AbortController): Promise<void> {
    const queue = [...this.options.shards];
    let failure: { error: unknown } | undefined;
    const worker = async () => {
      for (;;) {
        const source = queue.shift();
        if (!source || failure || abort.signal.aborted) return;
        const stats = this.perShard.get(source.shard) as ShardStats;
        stats.state = 'scanning';
        try {
          for await (const event of this.scanShard(source, stats, abort.signal)) {
            await channel.push(event);
          }
          stats.state = 'done';
        } catch (err) {
          if (err instanceof QueueClosedError || abort.signal.aborted) {
            stats.state = 'cancelled';
            return;
          }
          stats.state = 'failed';
          failure ??= { error: err };
          this.options.log?.error({ err, shard: source.shard }, 'discovery: shard failed');
          // Stop the other shards and end the stream now: the result is incomplete.
          abort.abort(err);
          channel.close(err);
          return;
        }
      }
    };
    const n = Math.min(this.options.concurrency ?? 10, Math.max(1, queue.length));
    await Promise.all(Array.from({ length: n }, worker));
    if (!failure && abort.signal.aborted && this.options.signal?.aborted) {
      channel.close(this.options.signal.reason ?? new Error('discovery aborted'));
    } else {
      channel.close(failure?.error);
    }
  }

  private async *scanShard(
    source: ShardSource,
    stats: ShardStats,
    signal: AbortSignal,
  ): AsyncGenerator<DiscoveryEvent> {
    const policy = retryPolicy(this.options.retries ?? 3, this.options.retryDelayMs ?? 500);
    const row = {
      shark: this.options.shark,
      quotedShark: quotedShark(this.options.shark),
      exclude: keyExcluder(this.options.excludeKeyPrefixes ?? [], this.options.excludeMatch),
    };
    const saved = this.options.checkpoints?.get(source.shard) ?? {};
    const onRetry = (err: unknown, attempt: number, window: string) => {
      stats.retries++;
      this.options.log?.warn(
        { err, shard: source.shard, window, attempt },
        'discovery: retrying after an error',
      );
    };
    const onRows = (rows: number) => {
      stats.rows += rows;
    };
    for (const column of ['_id', '_idx'] as const satisfies readonly IdColumn[]) {
      const resumeAt = saved[column];
      if (resumeAt?.done) continue;
      const after = resumeAt?.through === undefined ? undefined : BigInt(resumeAt.through);
      let events: AsyncGenerator<DiscoveryEvent>;
      if (source.mode === 'moray') {
        events = scanMorayColumn({
          shard: source.shard,
          client: source.client,
          column,
          chunkSize: this.options.chunkSize ?? 10_000,
          windowsInFlight: this.options.windowsInFlight ?? 2,
          after,
          retry: policy,
          requestTimeoutMs: this.options.requestTimeoutMs ?? 10_000,
          row,
          signal,
          onRetry,
          onRows,
        });
      } else {
        if (column === '_idx' && !(await this.idxExists(source, policy, signal, onRetry))) {
          yield { kind: 'checkpoint', shard: source.shard, column, through: undefined, done: true };
          continue;
        }
        events = scanDirectColumn({
          shard: source.shard,
          db: source.db,
          column,
          batchSize: this.options.batchSize ?? 1000,
          after,
          retry: policy,
          row,
          signal,
          onRetry,
          onRows,
        });
      }
      for await (const event of events) {
        if (event.kind === 'object') stats.objects++;
        else if (event.kind === 'excluded') stats.excluded++;
        else if (event.kind === 'malformed') {
          stats.malformed++;
          this.options.log?.warn(
            { shard: event.shard, key: event.key, rowId: event.rowId, problem: event.problem },
            'discovery: malformed record',
          );
        }
        yield event;
      }
    }
  }

  private async idxExists(
    source: Extract<ShardSource, { mode: 'direct-db' }>,
    policy: RetryPolicy,
    signal: AbortSignal,
    onRetry: (err: unknown, attempt: number, window: string) => void,
  ): Promise<boolean> {
    try {
      return await retry(() => hasIdxColumn(source.db), {
        attempts: policy.retries + 1,
        delay: policy.delay,
        signal,
        onRetry: (err, attempt) => onRetry(err, attempt, '_idx column lookup'),
      });
    } catch (err) {
      if (signal.aborted) throw err;
      const attempts = err instanceof RetriesExhaustedError ? err.attempts : 1;
      const cause = err instanceof RetriesExhaustedError ? err.lastError : err;
      throw new DiscoveryShardError(
        source.shard,
        '_idx',
        { from: 'column lookup', to: undefined },
        attempts,
        cause,
      );
    }
  }
}

/** Starts nothing until iterated; see Discovery. */
export function discoverObjects(options: DiscoveryOptions): Discovery {
  return new Discovery(options);
}
