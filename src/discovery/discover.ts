/**
 * Discovery ("sharkspotter"): every object with a copy on one shark, across all metadata
 * shards — Moray shards and buckets-mdapi shards alike — as ONE async iterable. Shards are scanned in parallel (bounded); their events go
 * through a bounded channel, so a slow consumer slows the scan and memory stays bounded.
 * A shard that still fails after retries ends the iterable with a DiscoveryShardError naming
 * the shard and window — never a silently short result.
 */
import { BoundedQueue, QueueClosedError } from '../async/index.ts';
import type { Logger } from '../log/index.ts';
import { type BucketCatalogue, buildCatalogue, type RpcShardSource } from './buckets-catalogue.ts';
import { scanBucketsDirect } from './buckets-direct-scan.ts';
import { MAX_LIST_PAGE, scanBucketsRpc } from './buckets-rpc-scan.ts';
import type { BucketsShardSource } from './buckets-types.ts';
import { type ExcludeMatch, keyExcluder } from './exclude.ts';
import { scanMorayShard } from './moray-shard.ts';
import { quotedShark } from './record.ts';
import { type RetryPolicy, retryPolicy } from './retry.ts';
import type { BucketsCheckpoints, DiscoveryEvent, ShardCheckpoints, ShardSource } from './types.ts';

export interface DiscoveryOptions {
  /** The `manta_storage_id` to look for. */
  shark: string;
  /** Moray shards and buckets-mdapi shards (`mode: 'buckets-…'`), scanned alike. */
  shards: readonly ShardSource[];
  /** Moray mode window size. Default 10,000 (L `md_read_chunk_size`; sharkspotter CLI: 1000). */
  chunkSize?: number;
  /**
   * Moray mode: windows requested ahead while the current one is handed over, so the shard
   * reads the next window while this process parses. Default 2.
   */
  windowsInFlight?: number;
  /**
   * Direct-DB (Moray and buckets) rows per FETCH and between checkpoints, and buckets RPC
   * objects per list page (at most 1024). Default 1000.
   */
  batchSize?: number;
  /** Shards scanned at once. Default 10 (L `max_md_read_threads`). */
  concurrency?: number;
  /** Events buffered between the scanners and the consumer. Default 100. */
  bufferSize?: number;
  /**
   * `exclude_key_prefixes`; `[]` or `["none"]` disables. Default: none excluded. Moray shards
   * only: L never applies it to buckets objects (peers.md §4.4), and neither do we.
   */
  excludeKeyPrefixes?: readonly string[];
  excludeMatch?: ExcludeMatch;
  /** Where to resume, per Moray shard number. */
  checkpoints?: ReadonlyMap<number, ShardCheckpoints>;
  /** Where to resume, per buckets shard number: its last `buckets-checkpoint`. */
  bucketsCheckpoints?: BucketsCheckpoints;
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
  /** Buckets shard numbers overlap Moray's: their counters are kept apart. */
  private readonly perBucketsShard = new Map<number, ShardStats>();
  private sharedCatalogue: Promise<BucketCatalogue> | undefined;
  private started = false;

  constructor(options: DiscoveryOptions) {
    if (options.shark === '') throw new TypeError('discovery needs a shark');
    for (const s of options.shards) {
      if (!Number.isSafeInteger(s.shard) || s.shard < 0) {
        throw new RangeError(`invalid shard number ${s.shard}`);
      }
      if (s.mode === 'buckets-rpc' && s.vnodes?.some((v) => !Number.isSafeInteger(v) || v < 0)) {
        throw new RangeError(
          `buckets shard ${s.shard}: invalid vnodes ${JSON.stringify(s.vnodes)}`,
        );
      }
      const tier = isBuckets(s) ? this.perBucketsShard : this.perShard;
      if (tier.has(s.shard)) {
        throw new TypeError(`${isBuckets(s) ? 'buckets ' : ''}shard ${s.shard} listed twice`);
      }
      tier.set(s.shard, {
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

  /** Counters per Moray shard (live while the scan runs). */
  stats(): ReadonlyMap<number, Readonly<ShardStats>> {
    return this.perShard;
  }

  /** Counters per buckets shard (live while the scan runs). */
  bucketsStats(): ReadonlyMap<number, Readonly<ShardStats>> {
    return this.perBucketsShard;
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
        const stats = (isBuckets(source) ? this.perBucketsShard : this.perShard).get(
          source.shard,
        ) as ShardStats;
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
          this.options.log?.error(
            { err, shard: source.shard, tier: isBuckets(source) ? 'buckets' : 'moray' },
            'discovery: shard failed',
          );
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

  /** The RPC listing's catalogue of the tier, built once for every buckets-rpc shard. */
  private catalogue(policy: RetryPolicy, signal: AbortSignal): Promise<BucketCatalogue> {
    this.sharedCatalogue ??= buildCatalogue(
      this.options.shards.filter(isRpc),
      this.listingOptions(policy, signal),
    );
    return this.sharedCatalogue;
  }

  private listingOptions(policy: RetryPolicy, signal: AbortSignal) {
    return {
      pageSize: Math.min(this.options.batchSize ?? 1000, MAX_LIST_PAGE),
      retry: policy,
      signal,
      onRetry: (shard: number, err: unknown, attempt: number, window: string) => {
        const stats = this.perBucketsShard.get(shard);
        if (stats) stats.retries++;
        this.options.log?.warn(
          { err, shard, tier: 'buckets', window, attempt },
          'discovery: retrying after an error',
        );
      },
    };
  }

  private async *scanShard(
    source: ShardSource,
    stats: ShardStats,
    signal: AbortSignal,
  ): AsyncGenerator<DiscoveryEvent> {
    const policy = retryPolicy(this.options.retries ?? 3, this.options.retryDelayMs ?? 500);
    const tier = isBuckets(source) ? 'buckets' : 'moray';
    const onRetry = (err: unknown, attempt: number, window: string) => {
      stats.retries++;
      this.options.log?.warn(
        { err, shard: source.shard, tier, window, attempt },
        'discovery: retrying after an error',
      );
    };
    const onRows = (rows: number) => {
      stats.rows += rows;
    };
    const common = { retry: policy, signal, onRetry, onRows };
    let events: AsyncIterable<DiscoveryEvent>;
    if (source.mode === 'buckets-direct-db') {
      events = scanBucketsDirect({
        ...common,
        shark: this.options.shark,
        shard: source.shard,
        db: source.db,
        batchSize: this.options.batchSize ?? 1000,
        resume: this.options.bucketsCheckpoints?.get(source.shard),
        log: this.options.log,
      });
    } else if (source.mode === 'buckets-rpc') {
      events = scanBucketsRpc({
        ...this.listingOptions(policy, signal),
        onRows,
        shark: this.options.shark,
        source,
        catalogue: () => this.catalogue(policy, signal),
        resume: this.options.bucketsCheckpoints?.get(source.shard),
        log: this.options.log,
      });
    } else {
      events = scanMorayShard({
        ...common,
        source,
        saved: this.options.checkpoints?.get(source.shard) ?? {},
        chunkSize: this.options.chunkSize ?? 10_000,
        windowsInFlight: this.options.windowsInFlight ?? 2,
        batchSize: this.options.batchSize ?? 1000,
        requestTimeoutMs: this.options.requestTimeoutMs ?? 10_000,
        row: {
          shark: this.options.shark,
          quotedShark: quotedShark(this.options.shark),
          exclude: keyExcluder(this.options.excludeKeyPrefixes ?? [], this.options.excludeMatch),
        },
      });
    }
    for await (const event of events) {
      if (event.kind === 'object') stats.objects++;
      else if (event.kind === 'excluded') stats.excluded++;
      else if (event.kind === 'malformed') {
        stats.malformed++;
        this.options.log?.warn(
          { shard: event.shard, tier, key: event.key, rowId: event.rowId, problem: event.problem },
          'discovery: malformed record',
        );
      }
      yield event;
    }
  }
}

function isRpc(source: ShardSource): source is RpcShardSource {
  return source.mode === 'buckets-rpc';
}

function isBuckets(source: ShardSource): source is BucketsShardSource {
  return source.mode === 'buckets-direct-db' || source.mode === 'buckets-rpc';
}

/** Starts nothing until iterated; see Discovery. */
export function discoverObjects(options: DiscoveryOptions): Discovery {
  return new Discovery(options);
}
