/**
 * The manager's Prometheus metrics under L's names (manager.md §8.1): no prefix, counter vecs
 * that also count every increment under the label value `total`, and constant labels naming
 * the real service identity (§13.19) rather than L's placeholders.
 */
import { hostname } from 'node:os';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export interface MetricsIdentity {
  service?: string;
  server?: string;
  datacenter?: string;
  zonename?: string;
}

/** One per-job progress figure: a running job's objects of one tier in one status. */
export interface JobCount {
  job: string;
  status: string;
  /** v1: Moray (`manta` bucket) objects; v2: buckets-mdapi objects. */
  tier: 'v1' | 'v2';
  count: number;
}

/** A running job's limits (null: unlimited) and the rates measured beside them, per second. */
export interface JobPacingReading {
  limits: Readonly<Record<string, number | null>>;
  rates: Readonly<Record<string, number>>;
}

/** A metadata shard's fleet-wide budget (null: unlimited) and its measured update rate. */
export interface ShardBudgetReading {
  tier: 'v1' | 'v2';
  shard: number;
  budget: number | null;
  perSecond: number;
}

export class ManagerMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'req'>;
  private readonly objects: Counter<'type'>;
  private readonly errors: Counter<'error'>;
  private readonly skips: Counter<'reason'>;
  private readonly uploadRecords: Counter<'outcome'>;
  readonly mdThreads: Gauge;
  readonly bytes: Counter;
  readonly assignmentTime: Histogram;
  /** 1 while a job's placement waits for a usable destination (a stall, said, not silent). */
  readonly waitingForDestinations: Gauge<'job'>;
  private jobCounts: (() => Promise<JobCount[]>) | undefined;
  private readonly pacing = new Map<string, () => JobPacingReading>();
  private budgets: (() => ShardBudgetReading[]) | undefined;

  constructor(identity: MetricsIdentity = {}) {
    this.registry.setDefaultLabels({
      service: identity.service ?? 'rebalancer',
      server: identity.server ?? hostname(),
      datacenter: identity.datacenter ?? 'unknown',
      zonename: identity.zonename ?? hostname(),
    });
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'request_count',
      help: 'API requests',
      labelNames: ['req'],
      registers,
    });
    this.objects = new Counter({
      name: 'object_count',
      help: 'objects evacuated',
      labelNames: ['type'],
      registers,
    });
    this.errors = new Counter({
      name: 'error_count',
      help: 'objects in error',
      labelNames: ['error'],
      registers,
    });
    this.skips = new Counter({
      name: 'skip_count',
      help: 'objects skipped',
      labelNames: ['reason'],
      registers,
    });
    this.uploadRecords = new Counter({
      name: 'rebalancer_mpu_upload_records',
      help: 'MPU upload records after their parts moved, by outcome',
      labelNames: ['outcome'],
      registers,
    });
    this.mdThreads = new Gauge({
      name: 'md_thread_gauge',
      help: 'metadata update workers',
      registers,
    });
    this.bytes = new Counter({ name: 'bytes_count', help: 'bytes evacuated', registers });
    this.assignmentTime = new Histogram({
      name: 'assignment_time',
      help: 'seconds from posting an assignment to its completion',
      registers,
    });
    this.waitingForDestinations = new Gauge({
      name: 'rebalancer_job_waiting_for_destinations',
      help: '1 while the job waits for a usable destination in storinfo',
      labelNames: ['job'],
      registers,
    });
    const metrics = this;
    new Gauge({
      name: 'rebalancer_job_objects',
      help: "running jobs' objects by status and tier (v1 Moray, v2 buckets)",
      labelNames: ['job', 'status', 'tier'],
      registers,
      async collect() {
        this.reset();
        for (const c of (await metrics.jobCounts?.()) ?? []) {
          this.set({ job: c.job, status: c.status, tier: c.tier }, c.count);
        }
      },
    });
    // Read at each scrape from the running jobs: a finished job's series are gone. An
    // unlimited limit or budget has no series (no sentinel value to mistake for a rate).
    new Gauge({
      name: 'rebalancer_job_limit',
      help: "running jobs' limits per second (no series: unlimited)",
      labelNames: ['job', 'limit'],
      registers,
      collect() {
        this.reset();
        for (const [job, read] of metrics.pacing) {
          for (const [limit, value] of Object.entries(read().limits)) {
            if (value !== null) this.set({ job, limit }, value);
          }
        }
      },
    });
    new Gauge({
      name: 'rebalancer_job_rate',
      help: "running jobs' measured rates beside their limits: objects and bytes posted per second, metadata updates per second of the busiest shard",
      labelNames: ['job', 'measure'],
      registers,
      collect() {
        this.reset();
        for (const [job, read] of metrics.pacing) {
          for (const [measure, value] of Object.entries(read().rates)) {
            this.set({ job, measure }, value);
          }
        }
      },
    });
    new Gauge({
      name: 'rebalancer_metadata_shard_budget',
      help: 'metadata updates per second allowed per shard, over all jobs (no series: unlimited)',
      labelNames: ['tier', 'shard'],
      registers,
      collect() {
        this.reset();
        for (const r of metrics.budgets?.() ?? []) {
          if (r.budget !== null) this.set({ tier: r.tier, shard: String(r.shard) }, r.budget);
        }
      },
    });
    new Gauge({
      name: 'rebalancer_metadata_shard_updates_per_second',
      help: 'metadata updates per second measured per shard, over all jobs',
      labelNames: ['tier', 'shard'],
      registers,
      collect() {
        this.reset();
        for (const r of metrics.budgets?.() ?? []) {
          this.set({ tier: r.tier, shard: String(r.shard) }, r.perSecond);
        }
      },
    });
  }

  /** A running job's limits and rates, read at each scrape until untracked. */
  trackJobPacing(job: string, read: () => JobPacingReading): void {
    this.pacing.set(job, read);
  }

  /** The job ended: its limit and rate series are removed. */
  untrackJobPacing(job: string): void {
    this.pacing.delete(job);
  }

  /** Where the per-shard budget gauges read the manager's metadata budgets. */
  trackMetadataBudgets(read: () => ShardBudgetReading[]): void {
    this.budgets = read;
  }

  /** The per-shard budgets and rates the gauges show (none before an evacuation executor). */
  metadataBudgetReadings(): ShardBudgetReading[] {
    return this.budgets?.() ?? [];
  }

  /** Where the per-job progress gauges read the running jobs' counts at each scrape. */
  trackJobs(counts: () => Promise<JobCount[]>): void {
    this.jobCounts = counts;
  }
  /**
   * Adds the process's own metrics (resident memory, V8 heap, event-loop delay, GC, CPU) under
   * prom-client's standard names: for the service process, not for instances inside tests.
   */
  collectProcessMetrics(): void {
    collectDefaultMetrics({ register: this.registry });
  }

  request(
    req:
      | 'evacuate'
      | 'get_job'
      | 'list_jobs'
      | 'retry_job'
      | 'update_job'
      | 'cancel_job'
      | 'list_job_duplicates'
      | 'get_job_plan'
      | 'pause_job'
      | 'resume_job'
      | 'list_sharks'
      | 'list_job_events'
      | 'get_job_history'
      | 'get_job_activity'
      | 'list_job_objects'
      | 'delete_job',
  ): void {
    this.requests.inc({ req });
    this.requests.inc({ req: 'total' });
  }

  objectsComplete(n: number, bytes: number): void {
    if (n === 0) return;
    this.objects.inc({ type: 'evacuate' }, n);
    this.objects.inc({ type: 'total' }, n);
    this.bytes.inc(bytes);
  }

  objectErrors(error: string, n: number): void {
    if (n === 0) return;
    this.errors.inc({ error }, n);
    this.errors.inc({ error: 'total' }, n);
  }

  objectSkips(reason: string, n: number): void {
    if (n === 0) return;
    this.skips.inc({ reason }, n);
    this.skips.inc({ reason: 'total' }, n);
  }

  /** rewritten, absent, unchanged, disabled, or failed. */
  uploadRecord(outcome: string): void {
    this.uploadRecords.inc({ outcome });
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
