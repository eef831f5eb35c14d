/**
 * Checking (manager.md §4.8): what becomes of an assignment when its agent's lane is done with
 * it. Finished: the tasks the agent failed are skipped with its reasons, the rest go to the
 * metadata stage, and the landed copies' reservations are committed. Refused or timed out: its
 * objects are skipped. Abandoned (the agent gone past the outage tolerance, or it lost the
 * assignment): its objects go back to placement, a few times at most. Withdrawn (the job was
 * cancelled while paused, before it was posted): its objects stay unprocessed.
 */
import { reasonDbForm, type Task } from '../../../../api/common.ts';
import type { BoundedQueue } from '../../../../async/index.ts';
import { mpuPartUploadId } from '../../../../manta/mpu.ts';
import {
  type AssignedObject,
  type AssignmentRecord,
  type SkipReasonDb,
  skipReasonLabel,
  type TransitionGroup,
} from '../../../store/index.ts';
import type { BuiltAssignment, LaneOutcomes } from '../agent-lanes.ts';
import type { EvacuateContext } from '../context.ts';

/** The lanes' outcomes need all of the context but the lanes themselves. */
type CheckContext = Omit<EvacuateContext, 'lanes'>;

export function checkOutcomes(
  ctx: CheckContext,
  finished: BoundedQueue<AssignmentRecord>,
): LaneOutcomes {
  return {
    posted: async (a) => {
      await ctx.deps.store.setAssignmentState(a.record.id, ['init'], 'assigned');
    },
    finished: (a, failed, postedAt) => complete(ctx, finished, a, failed, postedAt),
    refused: (a, reason) =>
      skip(
        ctx,
        a,
        reason,
        reason === 'agent_assignment_timeout' ? 'agent_unavailable' : 'rejected',
      ),
    abandoned: (a, reason) => placeAgain(ctx, a, reason),
    withdrawn: (a) => withdraw(ctx, a),
  };
}

async function withdraw(ctx: CheckContext, a: BuiltAssignment): Promise<void> {
  const { store, chooser, log } = ctx.deps;
  const [ids] = await store.transition(ctx.jobId, [
    { select: { assignmentId: a.record.id }, from: 'assigned', to: { status: 'unprocessed' } },
  ]);
  // No assignment state says "never sent": it ends as one given up, never to be posted.
  await store.setAssignmentState(a.record.id, ['init'], 'agent_unavailable');
  chooser.release(a.tasks.map((t) => t.object_id));
  log.info(
    { assignment: a.record.id, shark: a.dest.manta_storage_id, objects: ids?.length ?? 0 },
    'cancelled while paused: assignment withdrawn, its objects left unprocessed',
  );
}

async function skip(
  ctx: CheckContext,
  a: BuiltAssignment,
  reason: SkipReasonDb,
  state: 'rejected' | 'agent_unavailable',
): Promise<void> {
  const { store, chooser, metrics, log } = ctx.deps;
  const [ids] = await store.transition(ctx.jobId, [
    { select: { assignmentId: a.record.id }, from: 'assigned', to: { status: 'skipped', reason } },
  ]);
  await store.setAssignmentState(a.record.id, ['init', 'assigned'], state);
  chooser.release(a.tasks.map((t) => t.object_id));
  const objects = ids?.length ?? 0;
  metrics.objectSkips(skipReasonLabel(reason), objects);
  log.warn(
    { assignment: a.record.id, shark: a.dest.manta_storage_id, reason, objects },
    'assignment skipped',
  );
}

async function placeAgain(
  ctx: CheckContext,
  a: BuiltAssignment,
  reason: SkipReasonDb,
): Promise<void> {
  const { store, chooser, metrics, log } = ctx.deps;
  const objects = await store.objectsOfAssignment(ctx.jobId, a.record.id, 'assigned');
  const again: AssignedObject[] = [];
  const skipped: string[] = [];
  for (const o of objects) {
    if (ctx.placeAgain.allow(o.id)) again.push(o);
    else skipped.push(o.id);
  }
  await store.transition(ctx.jobId, [
    { select: { ids: again.map((o) => o.id) }, from: 'assigned', to: { status: 'unprocessed' } },
    { select: { ids: skipped }, from: 'assigned', to: { status: 'skipped', reason } },
  ]);
  await store.setAssignmentState(a.record.id, ['init', 'assigned'], 'agent_unavailable');
  chooser.release(a.tasks.map((t) => t.object_id));
  metrics.objectSkips(skipReasonLabel(reason), skipped.length);
  for (const o of again) ctx.placeAgain.push({ id: o.id, object: o.object });
  log.warn(
    {
      assignment: a.record.id,
      shark: a.dest.manta_storage_id,
      reason,
      placedAgain: again.length,
      skipped: skipped.length,
    },
    'assignment given up: its objects are placed elsewhere',
  );
}

async function complete(
  ctx: CheckContext,
  finished: BoundedQueue<AssignmentRecord>,
  a: BuiltAssignment,
  failed: readonly Task[],
  postedAt: number,
): Promise<void> {
  const { store, chooser, metrics } = ctx.deps;
  const byReason = new Map<SkipReasonDb, string[]>();
  const names = new Map(a.tasks.map((t) => [t.object_id, t]));
  for (const task of failed) {
    if (typeof task.status !== 'object') continue;
    let reason = reasonDbForm(task.status.Failed) as SkipReasonDb;
    // The agent's transport failure (refused, reset, timed out) from the evacuated shark itself.
    if (
      reason === 'source_other_error' &&
      names.get(task.object_id)?.source.manta_storage_id === ctx.evacuated
    ) {
      reason = 'evacuated_shark_unreachable';
    } else if (
      names.get(task.object_id)?.bucket_id !== undefined &&
      (reason === 'source_object_not_found' || reason.startsWith('{http_status_code')) &&
      (await isMpuPart(ctx, task.object_id))
    ) {
      reason = 'mpu_part_no_data';
    }
    byReason.set(reason, [...(byReason.get(reason) ?? []), task.object_id]);
  }
  const groups: TransitionGroup[] = [...byReason].map(([reason, ids]) => ({
    select: { ids },
    from: 'assigned',
    to: { status: 'skipped', reason },
  }));
  groups.push({
    select: { assignmentId: a.record.id },
    from: 'assigned',
    to: { status: 'post_processing' },
  });
  await store.transition(ctx.jobId, groups);
  for (const [reason, ids] of byReason) metrics.objectSkips(skipReasonLabel(reason), ids.length);
  await store.setAssignmentState(a.record.id, ['assigned'], 'agent_complete');
  metrics.assignmentTime.observe((Date.now() - postedAt) / 1000);
  // The copies that landed keep counting against the destination until storinfo shows them.
  const failedIds = new Set(failed.map((t) => t.object_id));
  chooser.release([...failedIds]);
  chooser.commit(a.tasks.map((t) => t.object_id).filter((id) => !failedIds.has(id)));
  ctx.inFlight.metadataPending++;
  await finished.push({ ...a.record, state: 'agent_complete' });
}

/** A v2 MPU part by its name (`.mpu-parts/<uploadId>/<n>`, the pattern of src/manta/mpu.ts). */
async function isMpuPart(ctx: CheckContext, objectId: string): Promise<boolean> {
  const o = await ctx.deps.store.getObject(ctx.jobId, objectId);
  const name = o?.object?.name ?? o?.object?.key;
  return o?.tier === 'buckets' && name !== undefined && mpuPartUploadId(name) !== undefined;
}
