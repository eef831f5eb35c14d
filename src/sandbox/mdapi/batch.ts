/**
 * `batchupdateobjects` in the stand-in (peers.md §3.3): objects grouped by vnode, each group
 * one transaction that commits whole or rolls back whole, the groups that rolled back
 * reported with the first error and the payloads as the server decoded them.
 *
 * The server updates a group's rows one statement at a time. When every condition of a
 * group is at most an `if-match`, one UPDATE over the whole group has the same outcome when
 * it updates every row (no update changes an id, so no check depends on another update). It
 * is tried first, as one statement outside any transaction block (one round trip, not
 * three): a group it does not fully apply (a failed check, a missing row, a row named twice,
 * which it updates once) makes the statement fail, which undoes it whole, and is replayed
 * row by row in a transaction, which gives the server's exact outcome and error.
 */
import { DatabaseError } from '../../db/index.ts';
import type { UpdateObjectPayload, VnodeFailure } from '../../mdapi/index.ts';
import type { ParsedConditions } from './conditions.ts';
import { MdapiAppError, objectNotFound, postgresError } from './errors.ts';
import type { ObjectStore } from './objects.ts';
import { jsonbParam, sharksParam } from './rows.ts';
import { vnodeTable } from './schema.ts';

export interface BatchItem {
  readonly payload: UpdateObjectPayload;
  readonly conditions: ParsedConditions;
}

/**
 * What the bulk statement raises when it did not update every row: a cast of text that is no
 * integer (SQL has no RAISE outside PL/pgSQL), which aborts the statement and so undoes it.
 */
const INCOMPLETE = 'mdapi bulk update incomplete';
const INVALID_TEXT_REPRESENTATION = '22P02';

function isIncomplete(err: unknown): boolean {
  return (
    err instanceof DatabaseError &&
    err.code === INVALID_TEXT_REPRESENTATION &&
    err.message.includes(INCOMPLETE)
  );
}

/** `$10` is the group's size; the count is read after the UPDATE ran to completion. */
function bulkSql(vnode: number): string {
  return `WITH applied AS (UPDATE ${vnodeTable(vnode, 'manta_bucket_object')} AS o
    SET content_type = v.content_type,
      headers = COALESCE(
        (SELECT hstore(array_agg(e.key), array_agg(e.value)) FROM json_each_text(v.headers::json) e),
        ''::hstore),
      sharks = CASE WHEN v.sharks IS NULL THEN o.sharks ELSE COALESCE(
        (SELECT array_agg(s.x ORDER BY s.n) FROM json_array_elements_text(v.sharks::json)
           WITH ORDINALITY AS s(x, n)),
        '{}'::text[]) END,
      properties = v.properties::jsonb,
      modified = current_timestamp
    FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::uuid[], $5::text[], $6::text[],
      $7::text[], $8::text[], $9::text[])
      AS v(owner, bucket_id, name, id, content_type, headers, sharks, properties, if_match)
    WHERE o.owner = v.owner AND o.bucket_id = v.bucket_id AND o.name = v.name AND o.id = v.id
      AND (v.if_match IS NULL OR EXISTS (
        SELECT 1 FROM json_array_elements_text(v.if_match::json) m(etag)
        WHERE m.etag = '*' OR m.etag = o.id::text))
    RETURNING 1)
    SELECT CASE WHEN count(*) = $10::bigint THEN count(*)
      ELSE ('${INCOMPLETE}: ' || count(*) || ' of ' || $10::bigint)::bigint END AS n
    FROM applied`;
}

/** Whether one statement gives the group the outcome of row-by-row updates. */
function bulkEligible(items: readonly BatchItem[]): boolean {
  return items.every(
    ({ conditions: c }) => !c.ifNoneMatch && !c.ifModifiedSince && !c.ifUnmodifiedSince,
  );
}

/** One statement over the group; false when it did not apply every row (and so none). */
async function bulkUpdate(
  store: ObjectStore,
  vnode: number,
  items: readonly BatchItem[],
): Promise<boolean> {
  const column = <T>(f: (item: BatchItem) => T): T[] => items.map(f);
  try {
    await store.statement(vnode, bulkSql(vnode), [
      column((i) => i.payload.owner),
      column((i) => i.payload.bucket_id),
      column((i) => i.payload.name),
      column((i) => i.payload.id),
      column((i) => i.payload.content_type),
      column((i) => JSON.stringify(i.payload.headers)),
      column((i) => (i.payload.sharks ? JSON.stringify(sharksParam(i.payload.sharks)) : null)),
      column((i) => jsonbParam(i.payload.properties)),
      column((i) => (i.conditions.ifMatch ? JSON.stringify(i.conditions.ifMatch) : null)),
      items.length,
    ]);
    return true;
  } catch (err) {
    if (isIncomplete(err)) return false;
    throw err instanceof DatabaseError ? postgresError(err) : err;
  }
}

async function updateGroup(
  store: ObjectStore,
  vnode: number,
  items: readonly BatchItem[],
): Promise<void> {
  if (bulkEligible(items) && (await bulkUpdate(store, vnode, items))) return;
  await store.inTransaction(vnode, async (tx) => {
    for (const { payload, conditions } of items) {
      if (!(await store.updateRow(tx, payload, conditions))) throw objectNotFound();
    }
  });
}

/** Runs a batch; the vnodes that rolled back, in the order first named. */
export async function runBatch(
  store: ObjectStore,
  items: readonly BatchItem[],
): Promise<VnodeFailure[]> {
  const groups = new Map<number, BatchItem[]>();
  for (const item of items) {
    const group = groups.get(item.payload.vnode);
    if (group) group.push(item);
    else groups.set(item.payload.vnode, [item]);
  }
  const failed: VnodeFailure[] = [];
  for (const [vnode, group] of groups) {
    try {
      await updateGroup(store, vnode, group);
    } catch (err) {
      if (!(err instanceof MdapiAppError)) throw err;
      failed.push({ vnode, error: err.toWire(), objects: group.map((i) => normalised(i.payload)) });
    }
  }
  return failed;
}

/** A payload as the server echoes it after decoding: every member, nulls for the absent. */
function normalised(p: UpdateObjectPayload): UpdateObjectPayload {
  const c = p.conditions;
  return {
    owner: p.owner,
    bucket_id: p.bucket_id,
    name: p.name,
    id: p.id,
    vnode: p.vnode,
    content_type: p.content_type,
    headers: p.headers,
    sharks: p.sharks ?? null,
    properties: p.properties ?? null,
    request_id: p.request_id,
    conditions: {
      if_match: c?.['if-match'] ?? c?.if_match ?? null,
      if_none_match: c?.['if-none-match'] ?? c?.if_none_match ?? null,
      if_modified_since: c?.['if-modified-since'] ?? c?.if_modified_since ?? null,
      if_unmodified_since: c?.['if-unmodified-since'] ?? c?.if_unmodified_since ?? null,
    },
  };
}
