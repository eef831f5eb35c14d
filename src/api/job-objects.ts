/**
 * A job's data without SQL (issue 19): its objects paged and filtered (what the runbook asked
 * of the job database with psql), and the deletion of a finished job with all its rows (after
 * `rebalancer-adm job export`, the runbook's pg_dump). Query strings are text (nothing is
 * coerced, src/api/validation.ts): numbers are patterns here; status and reason are checked by
 * the manager, which names an unknown one in its 400.
 */
import { type Static, Type } from 'typebox';

const UUID_PATTERN =
  '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';

/** An object's status, as the manager stores it (manager.md §4.14): the filter takes the same. */
export const JOB_OBJECT_STATUSES = [
  'unprocessed',
  'assigned',
  'skipped',
  'error',
  'post_processing',
  'complete',
] as const;

/** Objects per page unless `limit` says otherwise, and the most a page holds. */
export const JOB_OBJECTS_PAGE = 100;
export const JOB_OBJECTS_MAX_PAGE = 1000;

export const JobObjectsQuery = Type.Object(
  {
    status: Type.Optional(
      Type.String({ minLength: 1, maxLength: 64, description: JOB_OBJECT_STATUSES.join(' | ') }),
    ),
    reason: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        description: 'a skip reason (e.g. metadata_etag_mismatch) or an error code',
      }),
    ),
    key_prefix: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    /** The last id of the previous page (its `next`). */
    after: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    /** 1..1000, default 100. */
    limit: Type.Optional(Type.String({ pattern: '^([1-9][0-9]{0,2}|1000)$' })),
  },
  { additionalProperties: false },
);
export type JobObjectsQuery = Static<typeof JobObjectsQuery>;

const NullableString = () => Type.Union([Type.String(), Type.Null()]);

export const JobObjectEntry = Type.Object(
  {
    /** Manta objectId. */
    id: Type.String(),
    key: Type.String(),
    shard: Type.Integer({ minimum: 0 }),
    /** v1: Moray, v2: buckets-mdapi (as the audit names them). */
    tier: Type.Union([Type.Literal('v1'), Type.Literal('v2')]),
    status: Type.Enum([...JOB_OBJECT_STATUSES]),
    /** A skipped object's skip reason, an errored one's error code; else null. */
    reason: NullableString(),
    /** An errored object's detail (its error_detail). */
    detail: NullableString(),
    dest_shark: NullableString(),
    assignment_id: NullableString(),
    /** The record's contentLength; null without a usable record. */
    content_length: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
    updated_at: Type.String(),
  },
  { title: 'JobObject', additionalProperties: false },
);
export type JobObjectEntry = Static<typeof JobObjectEntry>;

/** Ordered by id; `next` is the `after` of the following page, null on the last one. */
export const JobObjectList = Type.Object(
  { objects: Type.Array(JobObjectEntry), next: NullableString() },
  { title: 'JobObjectList', additionalProperties: false },
);
export type JobObjectList = Static<typeof JobObjectList>;

/** `DELETE /jobs/{uuid}`: the job deleted, and how many of its objects went with it. */
export const JobDeleted = Type.Object(
  {
    deleted: Type.String({ pattern: UUID_PATTERN }),
    objects: Type.Integer({ minimum: 0 }),
  },
  { title: 'JobDeleted', additionalProperties: false },
);
export type JobDeleted = Static<typeof JobDeleted>;
