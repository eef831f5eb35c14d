/** Pages of a job's duplicates (snaplinks) behind opaque cursors. */
import type { DuplicateList, DuplicateQuery } from '../../api/manager.ts';
import type { ManagerStore } from '../store/index.ts';
import { BadRequestError } from './errors.ts';

/** A page cursor: the last duplicate's (objectId, key, shard), opaque to clients. */
function duplicateCursor(d: { id: string; key: string; shard: number }): string {
  return Buffer.from(JSON.stringify([d.id, d.key, d.shard])).toString('base64url');
}

function parseDuplicateCursor(text: string): { id: string; key: string; shard: number } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (
    Array.isArray(parsed) &&
    parsed.length === 3 &&
    typeof parsed[0] === 'string' &&
    typeof parsed[1] === 'string' &&
    Number.isInteger(parsed[2])
  ) {
    return { id: parsed[0], key: parsed[1], shard: parsed[2] as number };
  }
  throw new BadRequestError(`after: ${JSON.stringify(text.slice(0, 64))} is not a page cursor`);
}

/** A page of the job's duplicates and what became of each; `next` when more may follow. */
export async function duplicatePage(
  store: ManagerStore,
  jobId: string,
  query: DuplicateQuery,
): Promise<DuplicateList> {
  const limit = query.limit === undefined ? 1000 : Number(query.limit);
  if (limit > 10_000) throw new BadRequestError(`limit ${limit} is over 10000`);
  const after = query.after === undefined ? undefined : parseDuplicateCursor(query.after);
  const rows = await store.listDuplicates(jobId, after, limit);
  const duplicates = rows.map((d) => ({
    object_id: d.id,
    key: d.key,
    shard: d.shard,
    status: d.status,
    ...(d.reason === undefined ? {} : { reason: d.reason }),
  }));
  const last = rows[rows.length - 1];
  return rows.length === limit && last
    ? { duplicates, next: duplicateCursor(last) }
    : { duplicates };
}
