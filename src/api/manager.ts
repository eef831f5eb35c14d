/**
 * The manager's HTTP API (manager.md §2), in L's JSON shapes: `{"action","params"}` requests,
 * PascalCase job actions and states, title-cased result keys. Differences from L, on purpose
 * (§13.10): errors are JSON bodies `{code, message}`; an unknown job is 404; a bad UUID is 400;
 * an illegal state change is 409.
 */
import { type Static, Type } from 'typebox';
import { StorageNode } from './common.ts';

const UUID_PATTERN =
  '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';

/**
 * Job states: snake_case in the database, PascalCase on the wire (manager.md §3.2). L's six
 * plus `cancelled`: a job the operator cancelled ends there (L had no cancel; its `Stopped` is
 * kept for jobs recorded by earlier versions).
 */
export const JOB_STATES = [
  'init',
  'setup',
  'running',
  'stopped',
  'complete',
  'failed',
  'cancelled',
] as const;
export type JobStateDb = (typeof JOB_STATES)[number];
export const JOB_STATE_NAMES = [
  'Init',
  'Setup',
  'Running',
  'Stopped',
  'Complete',
  'Failed',
  'Cancelled',
] as const;
export type JobStateName = (typeof JOB_STATE_NAMES)[number];
/** The states a job never leaves: a client watching a job stops at one of these. */
export const FINAL_JOB_STATE_NAMES: readonly JobStateName[] = [
  'Stopped',
  'Complete',
  'Failed',
  'Cancelled',
];
export const JobState = Type.Enum([...JOB_STATE_NAMES], { title: 'JobState' });

export const JOB_ACTIONS = ['evacuate', 'none'] as const;
export type JobActionDb = (typeof JOB_ACTIONS)[number];
export const JobAction = Type.Enum(['Evacuate', 'None'], { title: 'JobAction' });
export type JobActionName = 'Evacuate' | 'None';

/** `POST /jobs` body: serde's adjacently tagged `{"action": "evacuate", "params": {...}}`. */
export const EvacuateParams = Type.Object(
  {
    from_shark: Type.String({ minLength: 1, description: 'storage id or short name' }),
    max_objects: Type.Optional(
      Type.Union([Type.Integer({ minimum: 0, maximum: 4294967295 }), Type.Null()], {
        description: 'absent, null or 0: unlimited',
      }),
    ),
  },
  { additionalProperties: false },
);
export type EvacuateParams = Static<typeof EvacuateParams>;

export const CreateJobPayload = Type.Object(
  { action: Type.Literal('evacuate'), params: EvacuateParams },
  { title: 'CreateJobPayload', additionalProperties: false },
);
export type CreateJobPayload = Static<typeof CreateJobPayload>;

/** L answers create and retry with the bare job UUID followed by a newline (text/plain here). */
export const JobCreated = Type.String({
  title: 'JobCreated',
  description: 'the new job UUID followed by a newline',
  pattern: `${UUID_PATTERN.slice(0, -1)}\\n$`,
});

/** `PUT /jobs/{uuid}` body. L's cap for runtime changes is 250 (MAX_TUNABLE_MD_UPDATE_THREADS). */
export const MAX_TUNABLE_MD_UPDATE_THREADS = 250;
export const UpdateJobPayload = Type.Object(
  {
    action: Type.Literal('set_metadata_threads'),
    params: Type.Integer({ minimum: 1, maximum: MAX_TUNABLE_MD_UPDATE_THREADS }),
  },
  { title: 'UpdateJobPayload', additionalProperties: false },
);
export type UpdateJobPayload = Static<typeof UpdateJobPayload>;

export const JobListEntry = Type.Object(
  { id: Type.String(), action: JobAction, state: JobState },
  { title: 'JobDbEntry' },
);
export interface JobListEntry {
  id: string;
  action: JobActionName;
  state: JobStateName;
}
export const JobList = Type.Array(JobListEntry, { title: 'JobList' });

/** The title-cased result keys of L's status (manager.md §2.4), in L's order. */
export const RESULT_STATUS_KEYS = [
  'Unprocessed',
  'Assigned',
  'Skipped',
  'Error',
  'Post Processing',
  'Complete',
] as const;
export type ResultStatusKey = (typeof RESULT_STATUS_KEYS)[number];

const Count = Type.Integer({ minimum: 0 });
/** One metadata tier's objects by status (the six keys of L's results, and their total). */
export const TierResults = Type.Object(
  {
    Unprocessed: Count,
    Assigned: Count,
    Skipped: Count,
    Error: Count,
    'Post Processing': Count,
    Complete: Count,
    Total: Count,
  },
  { title: 'TierResults' },
);
export type TierResults = Record<ResultStatusKey | 'Total', number>;
export const JobResults = Type.Object(
  {
    Unprocessed: Count,
    Assigned: Count,
    Skipped: Count,
    Error: Count,
    'Post Processing': Count,
    Complete: Count,
    Duplicates: Count,
    Total: Count,
    error_breakdown: Type.Optional(Type.Record(Type.String(), Type.Record(Type.String(), Count))),
    skip_breakdown: Type.Optional(Type.Record(Type.String(), Count)),
    /**
     * Addition, for a job with buckets objects: its objects apart by metadata tier, `v1`
     * (Moray) and `v2` (buckets-mdapi); the keys above are their sums (duplicates apart).
     */
    tiers: Type.Optional(Type.Object({ v1: TierResults, v2: TierResults })),
  },
  { title: 'JobResults' },
);
export type JobResults = Record<ResultStatusKey | 'Duplicates' | 'Total', number> & {
  error_breakdown?: Record<string, Record<string, number>>;
  skip_breakdown?: Record<string, number>;
  tiers?: { v1: TierResults; v2: TierResults };
};

export const JobStatus = Type.Object(
  {
    config: Type.Object({ action: JobAction, from_shark: StorageNode }),
    results: JobResults,
    state: JobState,
    /** Additions: why a job failed or stopped, and when it changed. */
    error: Type.Optional(Type.String()),
    created_at: Type.Optional(Type.String()),
    updated_at: Type.Optional(Type.String()),
    retry_of: Type.Optional(Type.String()),
    max_objects: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()])),
    metadata_threads: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { title: 'JobStatus' },
);
export interface JobStatus {
  config: { action: JobActionName; from_shark: StorageNode };
  results: JobResults;
  state: JobStateName;
  error?: string;
  created_at?: string;
  updated_at?: string;
  retry_of?: string;
  max_objects?: number | null;
  metadata_threads?: number;
}

export const JobParams = Type.Object({ uuid: Type.String() });
export type JobParams = Static<typeof JobParams>;

/** A record sharing its objectId with an object the job moved (a snaplink), and its outcome. */
export const DuplicateEntry = Type.Object(
  {
    object_id: Type.String(),
    key: Type.String(),
    shard: Type.Integer(),
    status: Type.Union([
      Type.Literal('pending'),
      Type.Literal('complete'),
      Type.Literal('skipped'),
    ]),
    reason: Type.Optional(Type.String()),
  },
  { title: 'DuplicateEntry', additionalProperties: false },
);
export type DuplicateEntry = Static<typeof DuplicateEntry>;

/** A page of a job's duplicates; `next` is the cursor of the following page, if any. */
export const DuplicateList = Type.Object(
  { duplicates: Type.Array(DuplicateEntry), next: Type.Optional(Type.String()) },
  { title: 'DuplicateList', additionalProperties: false },
);
export type DuplicateList = Static<typeof DuplicateList>;

/** Query strings are text: `limit` is digits (1..10000), `after` a cursor from `next`. */
export const DuplicateQuery = Type.Object(
  {
    after: Type.Optional(Type.String({ minLength: 1, maxLength: 8192 })),
    limit: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,4}$' })),
  },
  { additionalProperties: false },
);
export type DuplicateQuery = Static<typeof DuplicateQuery>;

/** Every error answer. */
export const ManagerError = Type.Object(
  { code: Type.String(), message: Type.String() },
  { title: 'ManagerError' },
);
export interface ManagerError {
  code: string;
  message: string;
}

export const ManagerErrorCode = {
  BadRequest: 'BadRequest',
  NotFound: 'NotFound',
  Conflict: 'Conflict',
  PayloadTooLarge: 'PayloadTooLarge',
  Unavailable: 'ServiceUnavailable',
  Internal: 'InternalError',
  SnaplinkCleanupRequired: 'SnaplinkCleanupRequired',
} as const;

export function jobStateName(state: JobStateDb): JobStateName {
  return JOB_STATE_NAMES[JOB_STATES.indexOf(state)]!;
}

export function jobActionName(action: JobActionDb): JobActionName {
  return action === 'evacuate' ? 'Evacuate' : 'None';
}
