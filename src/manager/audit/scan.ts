/**
 * The audit's scan: discovery over every shard (no key excluded: an excluded key still names
 * the shark), each object classified as it comes, up to `concurrency` copy checks at once.
 * Each shard's results wait for the cursor that covers them and are written with it in one
 * transaction, in order per shard; a scan resumed from its cursors therefore classifies again
 * only what no cursor covered yet, and counts nothing twice.
 */
import { setMaxListeners } from 'node:events';
import type { StorageNode } from '../../api/common.ts';
import { Semaphore } from '../../async/index.ts';
import { RebalancerError } from '../../errors.ts';
import type { Logger } from '../../log/index.ts';
import type { ObjectSource } from '../jobs/evacuate/types.ts';
import type { AuditCursor, AuditedObject, ManagerStore, MetadataTier } from '../store/index.ts';
import { classify } from './classify.ts';
import type { CopyChecker } from './copy-check.ts';

export interface ScanRequest {
  jobId: string;
  shark: StorageNode;
  deep: boolean;
  store: ManagerStore;
  source: ObjectSource;
  copies: CopyChecker;
  /** Objects classified at once (each holds a copy check in flight). */
  concurrency: number;
  signal: AbortSignal;
  log: Logger;
}

/** Discovery left a key out: the audit's source must see every key of the shark. */
export class AuditSourceError extends RebalancerError {
  override readonly name = 'AuditSourceError';
  readonly code = 'audit_source_excludes';
}

/** One shard's (of a tier) results not yet written, and its writes, in order. */
interface Lane {
  pending: Promise<AuditedObject>[];
  written: Promise<void>;
  /** Writes queued and not done: the scan waits when a shard's writes fall behind. */
  queued: number;
}

const MAX_QUEUED_WRITES = 2;

/**
 * Scans and classifies; resolves with the objects of the scan's end that no cursor covers, for
 * the audit's last write (which completes it: counted only then, they are counted once).
 */
export async function scanShark(request: ScanRequest): Promise<AuditedObject[]> {
  const { jobId, store } = request;
  const failure = new AbortController();
  const signal = AbortSignal.any([request.signal, failure.signal]);
  // Every copy check in flight listens to it (its request, its retry's wait).
  setMaxListeners(4 * request.concurrency + 16, signal);
  const fail = (err: unknown) => {
    if (!failure.signal.aborted) failure.abort(err);
  };
  const slots = new Semaphore(request.concurrency);
  const lanes = new Map<string, Lane>();
  const laneOf = (tier: MetadataTier, shard: number): Lane => {
    const name = `${tier}/${shard}`;
    let lane = lanes.get(name);
    if (!lane) {
      lane = { pending: [], written: Promise.resolve(), queued: 0 };
      lanes.set(name, lane);
    }
    return lane;
  };
  const write = (lane: Lane, cursor: AuditCursor) => {
    const batch = lane.pending;
    lane.pending = [];
    lane.queued++;
    lane.written = lane.written.then(async () => {
      const objects = await Promise.all(batch);
      await store.recordAudited(jobId, objects, cursor);
      lane.queued--;
    });
    lane.written.catch(fail);
  };
  const ctx = { shark: request.shark.manta_storage_id, deep: request.deep, copies: request.copies };
  const resume = (await store.auditCursors(jobId)).map((c) => ({ ...c, done: false }));
  try {
    for await (const event of request.source.scan({ shark: request.shark, resume, signal })) {
      if (event.kind === 'object') {
        const { object } = event;
        // The shard's tier as discovery found it: its cursor is that tier's.
        const tier = object.tier ?? 'moray';
        await slots.acquire(signal);
        const audited = (async (): Promise<AuditedObject> => {
          try {
            const outcome = await classify(object.object, { ...ctx, signal });
            return { key: object.key, tier, shard: object.shard, objectId: object.id, outcome };
          } finally {
            slots.release();
          }
        })();
        audited.catch(fail);
        laneOf(tier, object.shard).pending.push(audited);
      } else if (event.kind === 'malformed') {
        const tier = event.tier ?? 'moray';
        request.log.warn({ shard: event.shard, tier, key: event.key }, 'audit: unreadable record');
        laneOf(tier, event.shard).pending.push(
          Promise.resolve({
            key: event.key,
            tier,
            shard: event.shard,
            objectId: undefined,
            outcome: 'unreadable_record' as const,
          }),
        );
      } else if (event.kind === 'excluded') {
        throw new AuditSourceError(`discovery excluded ${event.object.key} from the audit`);
      } else {
        const { tier = 'moray', shard, cursor } = event.checkpoint;
        const lane = laneOf(tier, shard);
        if (cursor !== null) write(lane, { tier, shard, cursor });
        if (lane.queued > MAX_QUEUED_WRITES) await lane.written;
      }
    }
    await Promise.all([...lanes.values()].map((l) => l.written));
    const last = await Promise.all([...lanes.values()].flatMap((l) => l.pending));
    if (failure.signal.aborted) throw failure.signal.reason;
    return last;
  } catch (err) {
    throw failure.signal.aborted ? failure.signal.reason : err;
  } finally {
    // Nothing of this scan is still running when it returns.
    await Promise.allSettled([...lanes.values()].flatMap((l) => [l.written, ...l.pending]));
  }
}
