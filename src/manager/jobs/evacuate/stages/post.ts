/**
 * Posting (manager.md §4.7): built assignments go to their destination agent's lane
 * (agent-lanes.ts posts and polls them). A resumed run first sends the metadata stage what
 * agents finished, gives the lanes what was built but not known to be posted, and has them
 * poll what was posted (read before any stage starts); the stage ends when no lane holds work.
 */
import type { Task } from '../../../../api/common.ts';
import type { BoundedQueue } from '../../../../async/index.ts';
import type { AssignmentRecord } from '../../../store/index.ts';
import type { BuiltAssignment } from '../agent-lanes.ts';
import type { EvacuateContext } from '../context.ts';
import { buildTask, objectFacts, sourceCopy } from '../object.ts';

/** What an earlier run of the job left between placement and the metadata update. */
export interface Leftovers {
  /** Finished by their agents, metadata not updated. */
  finished: AssignmentRecord[];
  /** Built, not known to be posted. */
  built: AssignmentRecord[];
  /** Posted, not known to be finished. */
  posted: AssignmentRecord[];
}

/**
 * Read before any stage starts: once placement runs, the assignments it builds are stored
 * `init` too, and would be taken for leftovers and posted (and finished) twice.
 */
export async function leftovers(ctx: EvacuateContext): Promise<Leftovers> {
  const { store } = ctx.deps;
  return {
    finished: await store.assignmentsInStates(ctx.jobId, ['agent_complete']),
    built: await store.assignmentsInStates(ctx.jobId, ['init']),
    posted: await store.assignmentsInStates(ctx.jobId, ['assigned']),
  };
}

export async function post(
  ctx: EvacuateContext,
  resumed: Leftovers,
  input: BoundedQueue<BuiltAssignment>,
  finished: BoundedQueue<AssignmentRecord>,
): Promise<void> {
  for (const record of resumed.finished) {
    ctx.inFlight.metadataPending++;
    await finished.push(record);
  }
  for (const record of resumed.built) ctx.lanes.enqueue(await rebuild(ctx, record));
  for (const record of resumed.posted) {
    ctx.lanes.adopt(await rebuild(ctx, record), (record.postedAt ?? record.createdAt).getTime());
  }
  for await (const a of input) {
    ctx.inFlight.inTransit--;
    ctx.lanes.enqueue(a);
  }
  await ctx.lanes.idle();
  ctx.signal.throwIfAborted();
}

/** An assignment built by an earlier run, from its stored objects; their bytes reserved again. */
async function rebuild(ctx: EvacuateContext, record: AssignmentRecord): Promise<BuiltAssignment> {
  const objects = await ctx.deps.store.objectsOfAssignment(ctx.jobId, record.id, 'assigned');
  const dest = { manta_storage_id: record.destShark, datacenter: record.destDatacenter };
  const tasks: Task[] = [];
  const sizes: { id: string; sizeBytes: number }[] = [];
  for (const o of objects) {
    const facts = objectFacts(o.object);
    const source = sourceCopy(facts, ctx.evacuated, {
      fromEvacuated: ctx.singleCopies === 'copy',
    });
    if (!source) continue;
    tasks.push(buildTask(o.id, facts, source));
    sizes.push({ id: o.id, sizeBytes: facts.sizeBytes });
  }
  ctx.deps.chooser.restore(dest, sizes);
  return { record, dest, tasks };
}
