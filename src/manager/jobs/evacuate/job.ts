/** The evacuate job executor: builds a pipeline per job over the environment's collaborators. */
import type { Logger } from '../../../log/index.ts';
import { type AuditDeps, auditShark } from '../../audit/audit.ts';
import type { ManagerMetrics } from '../../metrics.ts';
import type { JobRecord, ManagerStore } from '../../store/index.ts';
import { type JobExecutor, ShutdownError } from '../runner.ts';
import { converge } from './converge.ts';
import { MetadataBudgets } from './limits.ts';
import { EvacuatePipeline } from './pipeline.ts';
import type {
  AgentClient,
  DestinationChooser,
  EvacuateSettings,
  MetadataWriter,
  ObjectSource,
} from './types.ts';

export interface EvacuateEnvironment {
  source: ObjectSource;
  agents: AgentClient;
  metadata: MetadataWriter;
  metrics: ManagerMetrics;
  /** A chooser for one job (its own reservations), e.g. over a shared storinfo poller. */
  chooser(job: JobRecord): DestinationChooser;
  settings: Omit<EvacuateSettings, 'maxObjects' | 'metadataThreads'>;
  /**
   * The manager's per-shard metadata budgets (`metadata_updates_per_second_per_shard`), one
   * for every job; absent: the executor's jobs share an unlimited one.
   */
  metadataBudgets?: MetadataBudgets;
  /** The safe-to-remove audit every evacuation ends with; absent: none. */
  audit?: AuditDeps;
}

export function evacuateExecutor(env: EvacuateEnvironment): JobExecutor {
  const budgets = env.metadataBudgets ?? new MetadataBudgets(null);
  env.metrics.trackMetadataBudgets(() =>
    budgets.readings().map((r) => ({ ...r, tier: r.tier === 'buckets' ? 'v2' : 'v1' })),
  );
  return async ({ job, store, signal, log, registerControls, evacuating, paused }) => {
    if (job.action !== 'evacuate') throw new Error(`job action ${job.action} cannot be run`);
    const chooser = env.chooser(job);
    // The job's controls outlive each pass: what the operator set carries to the next one.
    const state = { limits: job.limits, threads: job.metadataThreads, paused, cancelled: false };
    const cancel = new AbortController();
    const newPass = (discover: boolean) =>
      new EvacuatePipeline(
        job.id,
        job.fromShark,
        job.retryOf,
        {
          store,
          source: env.source,
          chooser,
          agents: env.agents,
          metadata: env.metadata,
          metrics: env.metrics,
          log,
          evacuating,
          metadataBudgets: budgets,
        },
        {
          ...env.settings,
          maxObjects: job.retryOf === undefined ? job.params.max_objects : null,
          metadataThreads: state.threads,
        },
        signal,
        {
          limits: state.limits,
          paused: state.paused,
          singleCopies: job.params.single_copies ?? 'skip',
          discover,
        },
      );
    let pipeline = newPass(true);
    let bytes = 0;
    registerControls({
      setMetadataThreads: (n) => {
        state.threads = n;
        pipeline.setMetadataThreads(n);
      },
      setLimits: (limits) => {
        state.limits = limits;
        pipeline.setLimits(limits);
      },
      pause: () => {
        state.paused = true;
        pipeline.pause();
      },
      resume: () => {
        state.paused = false;
        pipeline.resume();
      },
      blockers: () => pipeline.blockers(),
      cancel: () => {
        state.cancelled = true;
        cancel.abort();
        pipeline.drain();
      },
    });
    try {
      await pipeline.run();
      bytes += pipeline.bytesMoved;
      await converge({
        jobId: job.id,
        store,
        evacuated: job.fromShark.manta_storage_id,
        rounds: job.params.converge_rounds ?? 0,
        delayMs: env.settings.convergeDelayMs,
        page: env.settings.storePage,
        concurrency: state.threads,
        pass: () => {
          pipeline = newPass(false);
          const pass = pipeline;
          return {
            readLive: (ref) => pass.readLive(ref),
            run: async () => {
              await pass.run();
              bytes += pass.bytesMoved;
            },
          };
        },
        stopped: () => state.cancelled,
        cancelled: cancel.signal,
        signal,
        log,
      });
      if (env.audit && !state.cancelled) await auditAfter(env.audit, job, store, signal, log);
    } finally {
      chooser.releaseAll();
    }
    log.info({ bytes }, 'evacuate job transferred bytes');
  };
}

/**
 * The evacuation's last step: is the shark safe to remove now? Its verdict is the job's
 * (GET /jobs/<uuid> `audit`). An audit that cannot finish leaves the job Complete, its audit
 * `failed` with the cause: the objects moved all the same, and `shark audit` can be run again.
 */
async function auditAfter(
  deps: AuditDeps,
  job: JobRecord,
  store: ManagerStore,
  signal: AbortSignal,
  log: Logger,
): Promise<void> {
  try {
    await auditShark(deps, {
      jobId: job.id,
      shark: job.fromShark,
      deep: false,
      signal,
      log,
      store,
    });
  } catch (err) {
    if (err instanceof ShutdownError || signal.aborted) throw err;
    log.error({ err }, 'the audit after the evacuation failed; run `rebalancer-adm shark audit`');
  }
}
