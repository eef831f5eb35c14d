/**
 * The objects of evacuate jobs: bulk recording of discovered objects (with duplicate
 * detection, IMP-2/§13.14), paging by status, and atomic batch transitions that keep the
 * per-job counters exact (§13.7). Every object ends in exactly one terminal status.
 */
import type { Database, Queryable } from '../../db/index.ts';
import { RebalancerError } from '../../errors.ts';
import type { MantaObjectValue } from '../../manta/index.ts';
import { CountDeltas, movedRow, ROW_BYTES } from './counts.ts';
import {
  type MetadataTier,
  type ObjectErrorDb,
  type ObjectStatus,
  parseTier,
  type SkipReasonDb,
  TERMINAL_OBJECT_STATUSES,
} from './enums.ts';
import { moveCounted } from './moves.ts';
import {
  type AssignedObject,
  OBJECT_COLUMNS,
  type ObjectLocation,
  type ObjectRow,
  type RecordedObject,
  type StoredObject,
  tierOfObject,
  toAssigned,
  toStored,
} from './object-rows.ts';
import { recordText } from './records.ts';

export interface DiscoveryCheckpoint {
  /** Absent: moray. */
  tier?: MetadataTier;
  shard: number;
  cursor: string | null;
  done: boolean;
}

export interface RecordResult {
  /** Objects recorded now, in input order (re-sent objects already recorded are left out). */
  recorded: RecordedObject[];
  /** Occurrences recorded as duplicates now. */
  duplicates: number;
}

/** A transition of objects that was asked from a status they can no longer leave. */
export class IllegalTransitionError extends RebalancerError {
  override readonly name = 'IllegalTransitionError';
  readonly code = 'illegal_transition';
}

/**
 * Records discovered objects as `unprocessed`, and the shard's checkpoint, in one transaction.
 * An object id seen again with the same key and shard is a re-sent record (discovery resumed
 * from its last checkpoint) and is ignored; with another key or shard it is a duplicate
 * (§4.11) and is recorded in `duplicates`, not evacuated twice.
 */
export async function recordDiscovered(
  db: Database,
  jobId: string,
  objects: readonly RecordedObject[],
  checkpoint?: DiscoveryCheckpoint,
): Promise<RecordResult> {
  return db.transaction(async (tx) => {
    const result: RecordResult = { recorded: [], duplicates: 0 };
    if (objects.length > 0) {
      const inserted = await tx.query<{ id: string; key: string; shard: number }>(
        `INSERT INTO evacuate_objects (job_id, id, key, shard, etag, object, status, tier)
         SELECT $1, t.id, t.key, t.shard, t.etag, t.object::jsonb, 'unprocessed', t.tier
           FROM unnest($2::text[], $3::text[], $4::int[], $5::text[], $6::text[], $7::text[])
                AS t(id, key, shard, etag, object, tier)
         ON CONFLICT (job_id, id) DO NOTHING
         RETURNING id, key, shard`,
        [
          jobId,
          objects.map((o) => o.id),
          objects.map((o) => o.key),
          objects.map((o) => o.shard),
          objects.map((o) => o.etag),
          objects.map((o) => recordText(o.object)),
          objects.map(tierOfObject),
        ],
      );
      const fresh = new Set(inserted.rows.map((r) => `${r.id}\u0000${r.key}\u0000${r.shard}`));
      const others: RecordedObject[] = [];
      for (const o of objects) {
        const tag = `${o.id}\u0000${o.key}\u0000${o.shard}`;
        if (fresh.has(tag)) {
          result.recorded.push(o);
          fresh.delete(tag); // a second identical record in the batch is a re-send
        } else {
          others.push(o);
        }
      }
      if (others.length > 0) result.duplicates = await recordDuplicates(tx, jobId, others);
      const deltas = new CountDeltas()
        .moved(
          undefined,
          'unprocessed',
          result.recorded.map((o) => ({
            tier: tierOfObject(o),
            bytes: o.object?.contentLength ?? 0,
          })),
        )
        .add('duplicates', 'duplicates', result.duplicates);
      await deltas.apply(tx, jobId);
    }
    if (checkpoint) await saveCheckpoint(tx, jobId, checkpoint);
    return result;
  });
}

/** Records those of `objects` whose stored namesake has another key or shard. */
async function recordDuplicates(
  tx: Queryable,
  jobId: string,
  objects: readonly RecordedObject[],
): Promise<number> {
  const { rows } = await tx.query(
    `INSERT INTO duplicates (job_id, id, key, shard, object, etag)
     SELECT $1, t.id, t.key, t.shard, t.object::jsonb, t.etag
       FROM unnest($2::text[], $3::text[], $4::int[], $5::text[], $6::text[])
            AS t(id, key, shard, object, etag)
       JOIN evacuate_objects o ON o.job_id = $1 AND o.id = t.id
      WHERE o.key <> t.key OR o.shard <> t.shard
     ON CONFLICT DO NOTHING
     RETURNING id`,
    [
      jobId,
      objects.map((o) => o.id),
      objects.map((o) => o.key),
      objects.map((o) => o.shard),
      objects.map((o) => recordText(o.object)),
      objects.map((o) => o.etag),
    ],
  );
  return rows.length;
}

export async function saveCheckpoint(
  db: Queryable,
  jobId: string,
  checkpoint: DiscoveryCheckpoint,
): Promise<void> {
  await db.query(
    `INSERT INTO discovery_checkpoints (job_id, tier, shard, cursor, done)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (job_id, tier, shard) DO UPDATE
       SET cursor = EXCLUDED.cursor, done = EXCLUDED.done, updated_at = now()`,
    [jobId, checkpoint.tier ?? 'moray', checkpoint.shard, checkpoint.cursor, checkpoint.done],
  );
}

export async function loadCheckpoints(
  db: Queryable,
  jobId: string,
): Promise<DiscoveryCheckpoint[]> {
  const { rows } = await db.query<{
    tier: string;
    shard: number;
    cursor: string | null;
    done: boolean;
  }>(
    `SELECT tier, shard, cursor, done FROM discovery_checkpoints WHERE job_id = $1
      ORDER BY tier DESC, shard`,
    [jobId],
  );
  return rows.map((r) => {
    const tier = parseTier(r.tier);
    return {
      ...(tier === 'moray' ? {} : { tier }),
      shard: r.shard,
      cursor: r.cursor,
      done: r.done,
    };
  });
}

/** One page of a job's objects in `status`, ordered by id, after `afterId`. */
export async function objectsByStatus(
  db: Queryable,
  jobId: string,
  status: ObjectStatus,
  afterId: string | undefined,
  limit: number,
): Promise<StoredObject[]> {
  const { rows } = await db.query<ObjectRow>(
    `SELECT ${OBJECT_COLUMNS} FROM evacuate_objects
      WHERE job_id = $1 AND status = $2 AND id > $3 ORDER BY id LIMIT $4`,
    [jobId, status, afterId ?? '', limit],
  );
  return rows.map(toStored);
}

export async function objectsOfAssignment(
  db: Queryable,
  jobId: string,
  assignmentId: string,
  status?: ObjectStatus,
): Promise<AssignedObject[]> {
  const { rows } = await db.query<ObjectRow>(
    `SELECT ${OBJECT_COLUMNS} FROM evacuate_objects
      WHERE job_id = $1 AND assignment_id = $2 AND ($3::text IS NULL OR status = $3)
      ORDER BY id`,
    [jobId, assignmentId, status ?? null],
  );
  return rows.map(toAssigned);
}

export async function getObject(
  db: Queryable,
  jobId: string,
  id: string,
): Promise<StoredObject | undefined> {
  const { rows } = await db.query<ObjectRow>(
    `SELECT ${OBJECT_COLUMNS} FROM evacuate_objects WHERE job_id = $1 AND id = $2`,
    [jobId, id],
  );
  return rows[0] === undefined ? undefined : toStored(rows[0]);
}

/** Where a group of objects goes. Skipped needs a reason, error a cause; nothing else may have one. */
export type ObjectTarget =
  | { status: 'unprocessed' }
  | { status: 'assigned'; assignmentId: string; destShark: string }
  | { status: 'post_processing' }
  | { status: 'complete' }
  | { status: 'skipped'; reason: SkipReasonDb }
  | { status: 'error'; error: ObjectErrorDb; detail?: string };

export interface TransitionGroup {
  /** The objects, by id; or every object of an assignment. */
  select: { ids: readonly string[] } | { assignmentId: string };
  from: ObjectStatus;
  to: ObjectTarget;
}

/** A group's UPDATE, RETURNING what the counters need: its text, parameters and statement name. */
function groupUpdate(
  jobId: string,
  g: TransitionGroup,
): { text: string; params: unknown[]; name: string } {
  const to = g.to;
  const keepPlacement = to.status !== 'assigned' && to.status !== 'unprocessed';
  const params: unknown[] = [
    jobId,
    g.from,
    to.status,
    to.status === 'skipped' ? to.reason : null,
    to.status === 'error' ? to.error : null,
    to.status === 'error' ? (to.detail ?? null) : null,
    to.status === 'assigned' ? to.assignmentId : null,
    to.status === 'assigned' ? to.destShark : null,
    keepPlacement,
  ];
  const byIds = 'ids' in g.select;
  params.push('ids' in g.select ? g.select.ids : g.select.assignmentId);
  const where = byIds ? 'id = ANY($10::text[])' : 'assignment_id = $10::uuid';
  const text = `UPDATE evacuate_objects
            SET status = $3::text, skipped_reason = $4::text, error = $5::text, error_detail = $6::text,
                assignment_id = CASE WHEN $9::boolean THEN assignment_id ELSE $7::uuid END,
                dest_shark = CASE WHEN $9::boolean THEN dest_shark ELSE $8::text END,
                updated_at = now()
          WHERE job_id = $1 AND status = $2::text AND ${where}
          RETURNING id, tier, ${ROW_BYTES} AS bytes`;
  return { text, params, name: byIds ? 'transition-ids' : 'transition-assignment' };
}

function isEmpty(g: TransitionGroup): boolean {
  return 'ids' in g.select && g.select.ids.length === 0;
}

/**
 * Applies every group atomically, updating only objects currently in `from`, and the counters
 * by exactly the rows changed. Returns the ids changed, per group. A single group (the usual
 * case: an assignment's objects moving on) is one statement (moves.ts); several are one
 * transaction.
 */
export async function transitionObjects(
  db: Database,
  jobId: string,
  groups: readonly TransitionGroup[],
): Promise<string[][]> {
  for (const g of groups) {
    if (TERMINAL_OBJECT_STATUSES.has(g.from)) {
      throw new IllegalTransitionError(`objects in terminal status ${g.from} cannot change`);
    }
  }
  const live = groups.filter((g) => !isEmpty(g));
  const only = live.length === 1 ? live[0] : undefined;
  if (only && only.from !== only.to.status) {
    const { text, params, name } = groupUpdate(jobId, only);
    const rows = await moveCounted(db, jobId, {
      update: text,
      params,
      from: only.from,
      to: only.to.status,
      skip: only.to.status === 'skipped' ? only.to.reason : null,
      error: only.to.status === 'error' ? only.to.error : null,
      name: `move-${name}`,
    });
    const ids = rows.map((r) => r.id);
    return groups.map((g) => (g === only ? ids : []));
  }
  return db.transaction(async (tx) => {
    const deltas = new CountDeltas();
    const changed: string[][] = [];
    for (const g of groups) {
      if (isEmpty(g)) {
        changed.push([]);
        continue;
      }
      const { text, params } = groupUpdate(jobId, g);
      const { rows } = await tx.query<{ id: string; tier: string; bytes: string }>(text, params);
      const to = g.to;
      deltas.moved(g.from, to.status, rows.map(movedRow));
      if (to.status === 'skipped') deltas.add('skip', to.reason, rows.length);
      if (to.status === 'error') deltas.add('error', to.error, rows.length);
      changed.push(rows.map((r) => r.id));
    }
    await deltas.apply(tx, jobId);
    return changed;
  });
}

/**
 * Records an object that failed before being recorded (an unusable record) as an error: where
 * it was found, without a record or an etag.
 */
export async function recordFailed(
  db: Database,
  jobId: string,
  object: ObjectLocation,
  error: ObjectErrorDb,
  detail: string,
): Promise<boolean> {
  return db.transaction(async (tx) => {
    const tier = object.tier ?? 'moray';
    const { rows } = await tx.query(
      `INSERT INTO evacuate_objects
         (job_id, id, key, shard, etag, object, status, error, error_detail, tier)
       VALUES ($1, $2, $3, $4, '', $5::jsonb, 'error', $6, $7, $8)
       ON CONFLICT (job_id, id) DO NOTHING RETURNING id`,
      [jobId, object.id, object.key, object.shard, recordText(undefined), error, detail, tier],
    );
    if (rows.length === 0) return false;
    await new CountDeltas()
      .moved(undefined, 'error', [{ tier, bytes: 0 }])
      .add('error', error, 1)
      .apply(tx, jobId);
    return true;
  });
}

/**
 * Objects whose metadata update found the record changed by another writer that kept the
 * object's identity (another job moved one of its other copies): back to `unprocessed` with
 * the live record and etag, to be placed again from it. Returns the ids changed.
 */
export async function placeAgainFromLive(
  db: Database,
  jobId: string,
  objects: readonly { id: string; etag: string; object: MantaObjectValue }[],
): Promise<string[]> {
  if (objects.length === 0) return [];
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<{ id: string; tier: string; bytes: string }>(
      `UPDATE evacuate_objects o
          SET status = 'unprocessed', etag = t.etag, object = t.object::jsonb,
              assignment_id = NULL, dest_shark = NULL, updated_at = now()
         FROM unnest($2::text[], $3::text[], $4::text[]) AS t(id, etag, object)
        WHERE o.job_id = $1 AND o.id = t.id AND o.status = 'post_processing'
        RETURNING o.id, o.tier, ${ROW_BYTES.replaceAll('object', 'o.object')} AS bytes`,
      [
        jobId,
        objects.map((o) => o.id),
        objects.map((o) => o.etag),
        objects.map((o) => recordText(o.object)),
      ],
    );
    await new CountDeltas()
      .moved('post_processing', 'unprocessed', rows.map(movedRow))
      .apply(tx, jobId);
    return rows.map((r) => r.id);
  });
}
