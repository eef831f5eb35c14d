/**
 * `batchupdateobjects` over many objects (peers.md §3.3): chunks of at most the batch size,
 * each answered with the vnodes whose transaction rolled back. A chunk that fails as a whole
 * (its retries spent, or a server error for the request) is reported as failures of its
 * vnodes, so what other chunks applied is kept and the caller can retry the rest one by one.
 */
import { randomUUID } from 'node:crypto';
import {
  MdapiError,
  MdapiProtocolError,
  MdapiUnsupportedError,
  serverError,
  wrappedError,
} from './errors.ts';
import { replyReader } from './reply.ts';
import { BatchUpdateReply, type MdapiPayload, type UpdateObjectPayload } from './schemas.ts';

/** A vnode of a chunk whose objects were not applied, and why. */
export interface BatchFailure {
  readonly vnode: number;
  readonly error: MdapiError;
  /** The payloads of that vnode, as sent (or as the server decoded them). */
  readonly objects: readonly UpdateObjectPayload[];
}

export interface BatchUpdateResult {
  /** Objects not in a failure were applied. */
  readonly failed: readonly BatchFailure[];
}

const batchReply = replyReader(BatchUpdateReply, 'batchupdateobjects reply');

/**
 * Sends `objects` in chunks through `send` (one retried RPC each). Every object of a batch
 * carries its own `request_id` (the server requires one); one is made when absent.
 */
export async function batchUpdate(
  objects: readonly MdapiPayload<UpdateObjectPayload>[],
  maxBatchSize: number,
  send: (chunk: readonly UpdateObjectPayload[]) => Promise<unknown[]>,
  shard: string,
): Promise<BatchUpdateResult> {
  const failed: BatchFailure[] = [];
  for (let at = 0; at < objects.length; at += maxBatchSize) {
    const chunk = objects
      .slice(at, at + maxBatchSize)
      .map((o) => ({ ...o, request_id: o.request_id ?? randomUUID() }));
    let reply: ReturnType<typeof batchReply.one>;
    try {
      reply = batchReply.one(await send(chunk), 'batchupdateobjects', shard);
    } catch (err) {
      // The caller must switch to single updates; nothing of this batch was applied.
      if (err instanceof MdapiUnsupportedError || !(err instanceof MdapiError)) throw err;
      failed.push(...byVnode(chunk, err));
      continue;
    }
    for (const f of reply.failed_vnodes) {
      failed.push({ vnode: f.vnode, error: vnodeError(f.error, shard), objects: f.objects });
    }
  }
  return { failed };
}

function byVnode(chunk: readonly UpdateObjectPayload[], error: MdapiError): BatchFailure[] {
  const groups = new Map<number, UpdateObjectPayload[]>();
  for (const object of chunk) {
    const group = groups.get(object.vnode);
    if (group) group.push(object);
    else groups.set(object.vnode, [object]);
  }
  return [...groups].map(([vnode, objects]) => ({ vnode, error, objects }));
}

/** The typed error of a failed vnode's `error` member (a wrapped error). */
function vnodeError(value: unknown, shard: string): MdapiError {
  const opts = { method: 'batchupdateobjects', shard };
  const error = wrappedError(value);
  if (error) return serverError(error.name, error.message, opts);
  return new MdapiProtocolError(`failed vnode error ${JSON.stringify(value)}`, 'error', opts);
}
