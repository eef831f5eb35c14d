/**
 * Placement and assignment building (manager.md §4.4–§4.6): each object gets a destination
 * from the chooser, avoiding sharks being evacuated and agents not ready, and joins that
 * destination's assignment. An object only avoided agents could take waits in a bounded
 * deferred list and is placed again later; with no usable destination at all placement waits,
 * saying so. Objects given back by agents or metadata updates are placed again here, so the
 * stage ends only when nothing that could give objects back is in flight.
 */
import { type BoundedQueue, sleep } from '../../../../async/index.ts';
import type { BuiltAssignment } from '../agent-lanes.ts';
import { AssignmentBuilder } from '../assignment-builder.ts';
import { avoidFor, type EvacuateContext, type PlacedObject } from '../context.ts';
import { BadObjectError, buildTask, objectFacts, sourceCopy } from '../object.ts';
import { PendingOutcomes } from '../outcomes.ts';

/** How placement names itself, and its trouble, where it holds the job up. */
const PLACEMENT = 'placement';
const NO_DESTINATIONS = 'waiting for destinations: storinfo lists none usable';

/** The shift's result, or 'timeout' after `ms` (the shift stays pending for the next call). */
async function raceTimeout<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function assign(
  ctx: EvacuateContext,
  input: BoundedQueue<PlacedObject>,
  out: BoundedQueue<BuiltAssignment>,
): Promise<void> {
  const { chooser, metrics, log } = ctx.deps;
  const { settings } = ctx;
  const builder = new AssignmentBuilder(ctx, out);
  const outcomes = new PendingOutcomes({
    jobId: ctx.jobId,
    store: ctx.deps.store,
    metrics,
    outcomeBatch: settings.outcomeBatch,
  });
  /** Objects only avoided agents could take now: placed again once one is ready. */
  const deferred: PlacedObject[] = [];
  let deferredAt = 0;
  let stallLoggedAt = 0;

  /** Placement waits for destinations: said at once and each minute, so a stall is heard. */
  const waiting = (since: number) => {
    metrics.waitingForDestinations.set({ job: ctx.jobId }, 1);
    ctx.blockers.report(PLACEMENT, NO_DESTINATIONS);
    const now = Date.now();
    if (now - stallLoggedAt < 60_000) return;
    stallLoggedAt = now;
    log.warn({ waitedMs: now - since }, NO_DESTINATIONS);
  };

  const place = async (next: PlacedObject): Promise<void> => {
    const { id, object } = next;
    if (object === undefined)
      return outcomes.error(id, new BadObjectError('bad_manta_object', 'no usable record'));
    const facts = objectFacts(object);
    const source = sourceCopy(facts, ctx.evacuated, {
      fromEvacuated: ctx.singleCopies === 'copy',
    });
    if (!source) return outcomes.skip(id, 'source_is_evac_shark');
    const request = { id, sharks: facts.sharks, sizeBytes: facts.sizeBytes };
    let placement = chooser.choose(request, avoidFor(ctx));
    let waitedSince: number | undefined;
    while (placement.outcome === 'wait' && !ctx.draining()) {
      await outcomes.flush();
      waitedSince ??= Date.now();
      waiting(waitedSince);
      await sleep(settings.waitForDestinationsMs, ctx.signal);
      placement = chooser.choose(request, avoidFor(ctx));
    }
    if (waitedSince !== undefined) {
      metrics.waitingForDestinations.remove({ job: ctx.jobId });
      ctx.blockers.clear(PLACEMENT);
    }
    if (placement.outcome === 'wait') return;
    if (placement.outcome === 'defer') {
      if (deferred.length === 0) deferredAt = Date.now();
      deferred.push(next);
      return;
    }
    if (placement.outcome === 'skip') return outcomes.skip(id, placement.reason);
    await builder.add(placement.shark, buildTask(id, facts, source), facts.sizeBytes);
    if (outcomes.full) await outcomes.flush();
  };

  /** Given-back objects, and deferred ones once an agent may have become ready. */
  const placeWaiting = async (): Promise<void> => {
    if (ctx.draining()) return;
    for (const o of ctx.placeAgain.take()) await place(o);
    if (deferred.length === 0 || Date.now() - deferredAt < settings.checkIntervalMs) return;
    for (const o of deferred.splice(0)) await place(o);
  };

  const tick = async () => {
    await outcomes.flush();
    if (!ctx.draining()) await builder.sendOld();
  };

  let pending: Promise<IteratorResult<PlacedObject>> | undefined;
  let intakeDone = false;
  for (;;) {
    await placeWaiting();
    // Bounded: with as many deferred as a queue holds, take no more until some are placed.
    const full = deferred.length >= settings.queueCapacity;
    if (intakeDone || full) {
      const held = deferred.length > 0 || ctx.placeAgain.size > 0;
      // Agents and metadata updates may still give objects back: end when none can.
      if (!held && !ctx.draining()) await builder.sendAll();
      const more = held || ctx.lanes.busy || ctx.inFlight.any;
      if (!more || (ctx.draining() && !full)) break;
      await tick();
      await sleep(Math.min(settings.checkIntervalMs, 1000), ctx.signal);
      continue;
    }
    pending ??= input.shift();
    const next = await raceTimeout(pending, Math.min(settings.maxAssignmentAgeSec * 1000, 1000));
    if (next === 'timeout') {
      await tick();
      continue;
    }
    pending = undefined;
    if (next.done) {
      intakeDone = true;
      continue;
    }
    // Cancelled: what is still to be placed stays unprocessed (read on, so recording ends).
    if (ctx.draining()) continue;
    await place(next.value);
    await builder.sendOld();
  }
  await outcomes.flush();
  if (ctx.draining()) builder.abandon();
  else await builder.sendAll();
}
