/**
 * A job's throttles (issue 15) and what they measure. Posting: objects and bytes per second of
 * the assignments the job posts (the copy traffic it causes). Metadata: updates per second per
 * metadata shard, twice over — the job's own `metadata_updates_per_second`, and the manager's
 * fleet-wide `metadata_updates_per_second_per_shard` shared by every job (Manta's metadata
 * tier is the shared bottleneck: about 160 updates/s a shard). Every limit may change while
 * work waits on it (RateLimiter applies a new rate to waiters at once); with no limit set the
 * way through costs no wait at all.
 */
import type { JobLimits } from '../../../api/limits.ts';
import { RateLimiter } from '../../../async/index.ts';
import type { MetadataTier } from '../../store/index.ts';

/** Seconds the measured rates are averaged over. */
const RATE_WINDOW_SECONDS = 10;

/** Units counted per second over the last `windowSeconds`, in one-second slots. */
export class RateMeter {
  private readonly counts: number[];
  private readonly seconds: number[];
  private readonly startedAt: number;

  constructor(
    private readonly windowSeconds = RATE_WINDOW_SECONDS,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.counts = new Array<number>(windowSeconds).fill(0);
    this.seconds = new Array<number>(windowSeconds).fill(-1);
    this.startedAt = now();
  }

  add(n: number): void {
    const second = Math.floor(this.now() / 1000);
    const at = second % this.windowSeconds;
    if (this.seconds[at] !== second) {
      this.seconds[at] = second;
      this.counts[at] = 0;
    }
    this.counts[at] = (this.counts[at] ?? 0) + n;
  }

  /** The mean rate over the window (over the time since the first second, early on). */
  perSecond(): number {
    const now = this.now();
    const oldest = Math.floor(now / 1000) - this.windowSeconds + 1;
    let sum = 0;
    this.seconds.forEach((s, i) => {
      if (s >= oldest) sum += this.counts[i] ?? 0;
    });
    const span = Math.min(now - oldest * 1000, now - this.startedAt) / 1000;
    return sum / Math.max(1, span);
  }
}

/** Paces what a job posts to agents by objects and by bytes; measures what it posted. */
export class PostPacer {
  private readonly objects: RateLimiter;
  private readonly bytes: RateLimiter;
  private readonly postedObjects = new RateMeter();
  private readonly postedBytes = new RateMeter();

  constructor(limits: JobLimits) {
    this.objects = new RateLimiter(limits.objects_per_second);
    this.bytes = new RateLimiter(limits.bytes_per_second);
  }

  setLimits(limits: JobLimits): void {
    this.objects.setRate(limits.objects_per_second);
    this.bytes.setRate(limits.bytes_per_second);
  }

  /** Waits until an assignment of `objects` and `bytes` may be posted; undefined: at once. */
  acquire(objects: number, bytes: number, signal: AbortSignal): Promise<void> | undefined {
    if (this.objects.rate === null && this.bytes.rate === null) return undefined;
    return this.objects.acquire(objects, signal).then(() => this.bytes.acquire(bytes, signal));
  }

  /** An agent took an assignment of `objects` and `bytes`. */
  posted(objects: number, bytes: number): void {
    this.postedObjects.add(objects);
    this.postedBytes.add(bytes);
  }

  rates(): { objects_per_second: number; bytes_per_second: number } {
    return {
      objects_per_second: this.postedObjects.perSecond(),
      bytes_per_second: this.postedBytes.perSecond(),
    };
  }
}

/** One metadata shard's fleet-wide budget and what every job took from it. */
export interface ShardBudget {
  readonly tier: MetadataTier;
  readonly shard: number;
  readonly limiter: RateLimiter;
  readonly meter: RateMeter;
}

/** A metadata shard's budget as metrics show it. */
export interface ShardBudgetReading {
  tier: MetadataTier;
  shard: number;
  /** Updates per second allowed; null: unlimited. */
  budget: number | null;
  /** Updates per second measured, over every job. */
  perSecond: number;
}

/**
 * The manager's per-shard metadata budgets, shared by every job: one limiter per metadata
 * shard at `metadata_updates_per_second_per_shard` (a fleet-wide limit, not a job's).
 */
export class MetadataBudgets {
  private perShard: number | null;
  private readonly shards = new Map<string, ShardBudget>();

  /** `perShard` null: unlimited. */
  constructor(perShard: number | null) {
    this.perShard = perShard;
  }

  get rate(): number | null {
    return this.perShard;
  }

  /** A reloaded config's budget; waiting updates follow it at once. */
  setRate(perShard: number | null): void {
    this.perShard = perShard;
    for (const s of this.shards.values()) s.limiter.setRate(perShard);
  }

  shard(tier: MetadataTier, shard: number): ShardBudget {
    const key = `${tier}:${shard}`;
    let budget = this.shards.get(key);
    if (!budget) {
      budget = { tier, shard, limiter: new RateLimiter(this.perShard), meter: new RateMeter() };
      this.shards.set(key, budget);
    }
    return budget;
  }

  readings(): ShardBudgetReading[] {
    return [...this.shards.values()].map((s) => ({
      tier: s.tier,
      shard: s.shard,
      budget: s.limiter.rate,
      perSecond: s.meter.perSecond(),
    }));
  }
}

interface JobShard {
  limiter: RateLimiter;
  meter: RateMeter;
  budget: ShardBudget;
}

/** A job's metadata updates, paced per shard by its own limit and by the shared budget. */
export class MetadataPacer {
  private limit: number | null;
  private readonly shards = new Map<string, JobShard>();

  constructor(
    private readonly budgets: MetadataBudgets,
    limit: number | null,
  ) {
    this.limit = limit;
  }

  setLimit(limit: number | null): void {
    this.limit = limit;
    for (const s of this.shards.values()) s.limiter.setRate(limit);
  }

  /**
   * Waits until `n` updates (one record, or each object of a batch) may go to the shard;
   * undefined when neither the job nor the fleet limits it: no wait at all.
   */
  take(
    tier: MetadataTier,
    shard: number,
    n: number,
    signal: AbortSignal,
  ): Promise<void> | undefined {
    const s = this.shard(tier, shard);
    if (s.limiter.rate === null && s.budget.limiter.rate === null) {
      this.count(s, n);
      return undefined;
    }
    return s.limiter
      .acquire(n, signal)
      .then(() => s.budget.limiter.acquire(n, signal))
      .then(() => this.count(s, n));
  }

  /** The job's busiest shard's measured updates per second. */
  perSecond(): number {
    let max = 0;
    for (const s of this.shards.values()) max = Math.max(max, s.meter.perSecond());
    return max;
  }

  private count(s: JobShard, n: number): void {
    s.meter.add(n);
    s.budget.meter.add(n);
  }

  private shard(tier: MetadataTier, shard: number): JobShard {
    const key = `${tier}:${shard}`;
    let s = this.shards.get(key);
    if (!s) {
      s = {
        limiter: new RateLimiter(this.limit),
        meter: new RateMeter(),
        budget: this.budgets.shard(tier, shard),
      };
      this.shards.set(key, s);
    }
    return s;
  }
}

/** A job's limits and the rates measured beside them (metrics). */
export interface JobPacing {
  limits: JobLimits;
  rates: {
    objects_per_second: number;
    bytes_per_second: number;
    metadata_updates_per_second: number;
  };
}
