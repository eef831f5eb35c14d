/**
 * The dry run's executor (issue 15 "Plan (dry run)"): discovery and placement of an evacuate
 * job, nothing posted to any agent and nothing written to any metadata tier — its environment
 * holds neither. Discovered objects are recorded as a real run records them; what cannot move
 * is skipped with its reason, what can stays unprocessed; the plan is saved before the executor
 * resolves, and the runner then records the job `planned`. The plan's reservations are released
 * whatever the end (planned, failed, cancelled, stopped).
 */
import { RebalancerError } from '../../../errors.ts';
import type { DestinationPicker, Reservations } from '../../../storinfo/index.ts';
import type { JobRecord } from '../../store/index.ts';
import type { EvacuateSettings, ObjectSource } from '../evacuate/types.ts';
import type { Blocker, JobContext, JobExecutor } from '../runner.ts';
import { discoverPlan } from './discover.ts';
import { type PlacementSettings, placePlan, planGroup } from './place.ts';
import { buildPlan } from './report.ts';

export type PlanSettings = PlacementSettings & Pick<EvacuateSettings, 'recordBatch'>;

/** What a dry run needs: where objects are found and how destinations are chosen. */
export interface PlanEnvironment {
  source: ObjectSource;
  /** Shared with real runs: while a plan runs its copies count against its destinations. */
  reservations: Reservations;
  /**
   * The job's destination picker under the current config, over `reservations`; asked again
   * for each page of objects, so a reload reaches a running plan.
   */
  picker(job: JobRecord): DestinationPicker;
  settings: PlanSettings;
}

/** A job this executor cannot run as a dry run. */
export class PlanJobError extends RebalancerError {
  override readonly name = 'PlanJobError';
  readonly code = 'plan_job_invalid';
}

/** How often a plan waiting for destinations says so in the log. */
const WAIT_LOG_INTERVAL_MS = 60_000;

export function planExecutor(env: PlanEnvironment): JobExecutor {
  return async (ctx) => {
    const { job } = ctx;
    if (job.action !== 'evacuate' || !job.dryRun || job.retryOf !== undefined) {
      throw new PlanJobError(`job ${job.id} is not a dry run of an evacuation`);
    }
    try {
      await runPlan(env, ctx);
    } finally {
      env.reservations.releaseGroup(planGroup(job.id));
    }
  };
}

async function runPlan(env: PlanEnvironment, ctx: JobContext): Promise<void> {
  const { job, store, signal, log } = ctx;
  const settings = env.settings;
  const intake = new AbortController();
  let limits = job.limits;
  let waitingSince: number | undefined;
  let loggedAt = 0;
  ctx.registerControls({
    cancel: () => intake.abort(new Error('the dry run was cancelled')),
    setLimits: (next) => {
      limits = next;
    },
    blockers: (): Blocker[] =>
      waitingSince === undefined
        ? []
        : [{ source: 'storinfo', problem: 'lists no usable destination', since: waitingSince }],
  });
  // A run resumed after discovery ended finds nothing new: it goes on with placement.
  if (job.discoveredAt === undefined) {
    const discovered = await discoverPlan({
      jobId: job.id,
      fromShark: job.fromShark,
      store,
      source: env.source,
      maxObjects: job.params.max_objects,
      recordBatch: settings.recordBatch,
      signal,
      intake: intake.signal,
      log,
    });
    if (!discovered) return;
  }
  const never = () => ctx.evacuating();
  let picker: DestinationPicker | undefined;
  const placed = await placePlan({
    jobId: job.id,
    evacuated: job.fromShark.manta_storage_id,
    singleCopies: job.params.single_copies ?? 'skip',
    store,
    reservations: env.reservations,
    picker: () => {
      picker = env.picker(job);
      return picker;
    },
    never,
    settings,
    signal,
    stopped: () => intake.signal.aborted,
    waiting: (since) => {
      waitingSince = since;
      const now = Date.now();
      if (since === undefined || now - loggedAt < WAIT_LOG_INTERVAL_MS) return;
      loggedAt = now;
      log.warn(
        { waitedMs: now - since },
        'dry run waiting for destinations: storinfo lists none usable',
      );
    },
  });
  if (placed === undefined) return;
  const plan = await buildPlan({
    job,
    store,
    placed,
    picker: picker ?? env.picker(job),
    reservations: env.reservations,
    never: never(),
    limits,
    storePage: settings.storePage,
  });
  signal.throwIfAborted();
  await store.savePlan(job.id, plan);
  log.info(
    {
      objects: plan.move.objects,
      bytes: plan.move.bytes,
      cannotMove: plan.cannot_move.objects,
      estimatedSeconds: plan.estimated_seconds,
    },
    'dry run planned',
  );
}
