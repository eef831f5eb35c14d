/**
 * Assembles a running manager from its parts: store (migrated), job runner (resuming unfinished
 * jobs), HTTP API. Used by main.ts and by tests, which give their own executor and sharks.
 */
import type { FastifyInstance } from 'fastify';
import type { Database } from '../db/index.ts';
import type { Logger } from '../log/index.ts';
import type { FleetSource } from './fleet.ts';
import type { ApiTokens } from './http/auth.ts';
import { buildManagerApp } from './http/server.ts';
import { JobDataService } from './jobs/job-data.ts';
import { ProgressTracker } from './jobs/progress.ts';
import { JobRetention } from './jobs/retention.ts';
import { type JobExecutor, JobRunner } from './jobs/runner.ts';
import { JobService, type JobServiceOptions } from './jobs/service.ts';
import { type JobCount, ManagerMetrics } from './metrics.ts';
import { type OrphanEnvironment, OrphanService } from './orphans/service.ts';
import type { SharkDirectory } from './sharks.ts';
import { ManagerStore } from './store/index.ts';
import { storeVacuumer } from './store/maintenance.ts';

export interface ManagerServiceOptions {
  db: Database;
  /**
   * The same database through connections of the API's own (absent: `db`'s). The jobs' stages
   * keep `db`'s pool busy, and its queue is first come first served: an operator's GET waited
   * behind dozens of pipeline queries (150–430 ms per status at 2,000 objects/s).
   */
  apiDb?: Database;
  executor: JobExecutor;
  /** How long `POST /jobs/{uuid}/cancel` waits for the job to wind down, ms (default 10 s). */
  cancelWaitMs?: number;
  /** Time between vacuums of the store's tables while jobs run, when autovacuum is off. */
  vacuumIntervalMs?: number;
  sharks: SharkDirectory;
  log: Logger;
  metrics?: ManagerMetrics;
  settings: JobServiceOptions['settings'];
  stamp?: string;
  /** A shark's used bytes (storinfo), for a job's estimated total before discovery ends. */
  sharkUsedBytes?: (storageId: string) => number | undefined;
  /** How long nothing may settle before a running job is reported stalled, ms (5 min). */
  stallAfterMs?: () => number;
  /** The agents' file routes and discovery, for the orphan routes (503 without). */
  orphans?: OrphanEnvironment;
  /** The API's bearer tokens, read per request (absent: the API is open). */
  tokens?: () => ApiTokens;
  /** storinfo and the placement settings, for `GET /sharks` (503 without). */
  fleet?: FleetSource;
  /** Time between a running job's persisted progress samples, ms (default 10 s). */
  historyIntervalMs?: number;
  /** config.json's job_retention_days, read at each purge (null or absent: keep forever). */
  jobRetentionDays?: () => number | null;
  /** Time between purges of finished jobs past their retention, ms (default an hour). */
  retentionIntervalMs?: number;
}

export interface ManagerService {
  store: ManagerStore;
  runner: JobRunner;
  jobs: JobService;
  app: FastifyInstance;
  metrics: ManagerMetrics;
  /** Job ids resumed at start. */
  resumed: string[];
  /** Stops the API and the running jobs (which stay resumable); does not close the database. */
  close(): Promise<void>;
}

export async function startManagerService(options: ManagerServiceOptions): Promise<ManagerService> {
  const store = await ManagerStore.open(options.db);
  const apiStore = options.apiDb === undefined ? store : new ManagerStore(options.apiDb);
  const metrics = options.metrics ?? new ManagerMetrics();
  const runner = new JobRunner({
    store,
    executor: options.executor,
    log: options.log,
    ...(options.cancelWaitMs === undefined ? {} : { cancelWaitMs: options.cancelWaitMs }),
  });
  metrics.trackJobs(async () => {
    const out: JobCount[] = [];
    for (const job of runner.runningIds()) {
      // The counters hold totals and v2 apart (store/counts.ts): v1 is the difference.
      const totals = new Map<string, number>();
      const v2 = new Map<string, number>();
      for (const c of await store.counts(job)) {
        if (c.bucket === 'status') totals.set(c.name, c.count);
        else if (c.bucket === 'buckets_status') v2.set(c.name, c.count);
      }
      for (const [status, count] of totals) {
        const buckets = v2.get(status) ?? 0;
        out.push({ job, status, tier: 'v1', count: count - buckets });
        out.push({ job, status, tier: 'v2', count: buckets });
      }
    }
    return out;
  });
  const progress = new ProgressTracker({
    store: apiStore,
    running: () => runner.runningIds(),
    blockers: (id) => runner.controls(id)?.blockers?.() ?? [],
    sharkUsedBytes: options.sharkUsedBytes ?? (() => undefined),
    stallAfterMs: options.stallAfterMs ?? (() => 300_000),
    log: options.log.child({ component: 'progress' }),
    ...(options.historyIntervalMs === undefined
      ? {}
      : { historyIntervalMs: options.historyIntervalMs }),
  });
  const jobs = new JobService({
    store: apiStore,
    runner,
    sharks: options.sharks,
    log: options.log,
    settings: options.settings,
    progress,
  });
  const orphans =
    options.orphans === undefined
      ? undefined
      : new OrphanService({
          ...options.orphans,
          store,
          log: options.log.child({ component: 'orphans' }),
        });
  const jobData = new JobDataService({ store: apiStore, running: () => runner.runningIds() });
  const app = await buildManagerApp({
    jobs,
    metrics,
    log: options.log,
    store: apiStore,
    jobData,
    ...(options.fleet === undefined ? {} : { fleet: options.fleet }),
    ...(orphans === undefined ? {} : { orphans }),
    ...(options.tokens === undefined ? {} : { tokens: options.tokens }),
    ...(options.stamp === undefined ? {} : { stamp: options.stamp }),
  });
  const maintenance = storeVacuumer({
    db: options.db,
    log: options.log,
    busy: () => runner.runningCount > 0,
    ...(options.vacuumIntervalMs === undefined ? {} : { intervalMs: options.vacuumIntervalMs }),
  });
  await maintenance.start();
  const resumed = await runner.start();
  progress.start();
  const retention = new JobRetention({
    data: jobData,
    days: options.jobRetentionDays ?? (() => null),
    log: options.log.child({ component: 'retention' }),
    ...(options.retentionIntervalMs === undefined
      ? {}
      : { intervalMs: options.retentionIntervalMs }),
  });
  await retention.start();
  return {
    store,
    runner,
    jobs,
    app,
    metrics,
    resumed,
    async close() {
      await app.close();
      await retention.stop();
      await progress.stop();
      await runner.stop();
      await maintenance.stop();
    },
  };
}
