/**
 * The manager's HTTP API (manager.md §2), in L's JSON shapes: `{"action","params"}` requests,
 * PascalCase job actions and states, title-cased result keys. Differences from L, on purpose
 * (§13.10): errors are JSON bodies `{code, message}`; an unknown job is 404; a bad UUID is 400;
 * an illegal state change is 409.
 */
import { type Static, Type } from 'typebox';
import { AuditReport, CreateAuditPayload } from './audit.ts';
import { StorageNode } from './common.ts';
import { Convergence, ConvergeRounds } from './convergence.ts';
import { JobLimits, LIMIT_PROPERTIES, LimitChanges } from './limits.ts';
import { JobProgress } from './progress.ts';

const Count = Type.Integer({ minimum: 0 });

const UUID_PATTERN =
  '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';

/**
 * Job states: snake_case in the database, PascalCase on the wire (manager.md §3.2). L's six
 * plus `cancelled`: a job the operator cancelled ends there (L had no cancel; its `Stopped` is
 * kept for jobs recorded by earlier versions); `paused`: the operator paused it, nothing new
 * starts until it is resumed; `planned`: a dry run ended with its plan.
 */
export const JOB_STATES = [
  'init',
  'setup',
  'running',
  'stopped',
  'complete',
  'failed',
  'cancelled',
  'paused',
  'planned',
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
  'Paused',
  'Planned',
] as const;
export type JobStateName = (typeof JOB_STATE_NAMES)[number];
/** The states a job never leaves: a client watching a job stops at one of these. */
export const FINAL_JOB_STATE_NAMES: readonly JobStateName[] = [
  'Stopped',
  'Complete',
  'Failed',
  'Cancelled',
  'Planned',
];
export const JobState = Type.Enum([...JOB_STATE_NAMES], { title: 'JobState' });

/** `audit`: the safe-to-remove audit of a shark (src/api/audit.ts); it moves nothing. */
export const JOB_ACTIONS = ['evacuate', 'none', 'audit'] as const;
export type JobActionDb = (typeof JOB_ACTIONS)[number];
export const JobAction = Type.Enum(['Evacuate', 'None', 'Audit'], { title: 'JobAction' });
export type JobActionName = 'Evacuate' | 'None' | 'Audit';

/**
 * What becomes of an object whose only copy is on the evacuated shark: copied from that shark
 * while it still serves reads (`copy`, the default), or skipped `source_is_evac_shark` (L).
 */
export const SINGLE_COPIES = ['copy', 'skip'] as const;
export type SingleCopies = (typeof SINGLE_COPIES)[number];
export const SingleCopies = Type.Enum([...SINGLE_COPIES], {
  title: 'SingleCopies',
  description: 'objects whose only copy is on the shark: copy them from it, or skip them',
});

/** `POST /jobs` body: serde's adjacently tagged `{"action": "evacuate", "params": {...}}`. */
export const EvacuateParams = Type.Object(
  {
    from_shark: Type.String({ minLength: 1, description: 'storage id or short name' }),
    max_objects: Type.Optional(
      Type.Union([Type.Integer({ minimum: 0, maximum: 4294967295 }), Type.Null()], {
        description: 'absent, null or 0: unlimited',
      }),
    ),
    dry_run: Type.Optional(
      Type.Boolean({
        description: 'discovery and placement only: nothing moves, the job ends Planned',
      }),
    ),
    single_copies: Type.Optional(SingleCopies),
    converge_rounds: Type.Optional(ConvergeRounds),
    ...LIMIT_PROPERTIES,
  },
  { additionalProperties: false },
);
export type EvacuateParams = Static<typeof EvacuateParams>;

const CreateEvacuatePayload = Type.Object(
  { action: Type.Literal('evacuate'), params: EvacuateParams },
  { additionalProperties: false },
);
export const CreateJobPayload = Type.Union([CreateEvacuatePayload, CreateAuditPayload], {
  title: 'CreateJobPayload',
});
export type CreateJobPayload = Static<typeof CreateJobPayload>;

/** L answers create and retry with the bare job UUID followed by a newline (text/plain here). */
export const JobCreated = Type.String({
  title: 'JobCreated',
  description: 'the new job UUID followed by a newline',
  pattern: `${UUID_PATTERN.slice(0, -1)}\\n$`,
});

/** `PUT /jobs/{uuid}` body. L's cap for runtime changes is 250 (MAX_TUNABLE_MD_UPDATE_THREADS). */
export const MAX_TUNABLE_MD_UPDATE_THREADS = 250;
export const UpdateJobPayload = Type.Union(
  [
    Type.Object(
      {
        action: Type.Literal('set_metadata_threads'),
        params: Type.Integer({ minimum: 1, maximum: MAX_TUNABLE_MD_UPDATE_THREADS }),
      },
      { additionalProperties: false },
    ),
    Type.Object(
      { action: Type.Literal('set_limits'), params: LimitChanges },
      { additionalProperties: false },
    ),
  ],
  { title: 'UpdateJobPayload' },
);
export type UpdateJobPayload =
  | { action: 'set_metadata_threads'; params: number }
  | { action: 'set_limits'; params: LimitChanges };

export const JobListEntry = Type.Object(
  {
    id: Type.String(),
    action: JobAction,
    state: JobState,
    /** Additions: the shark, and for a job not finished its progress and limits. */
    from_shark: Type.Optional(Type.String()),
    progress: Type.Optional(JobProgress),
    limits: Type.Optional(JobLimits),
  },
  { title: 'JobDbEntry' },
);
export interface JobListEntry {
  id: string;
  action: JobActionName;
  state: JobStateName;
  from_shark?: string;
  progress?: JobProgress;
  limits?: JobLimits;
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
    dry_run: Type.Optional(Type.Boolean()),
    single_copies: Type.Optional(SingleCopies),
    limits: Type.Optional(JobLimits),
    progress: Type.Optional(JobProgress),
    convergence: Type.Optional(Convergence),
    /** An audit job's report; an evacuation's once it has audited its shark. */
    audit: Type.Optional(AuditReport),
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
  dry_run?: boolean;
  single_copies?: SingleCopies;
  limits?: JobLimits;
  progress?: JobProgress;
  convergence?: Convergence;
  audit?: AuditReport;
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
  /** An audit job is not retried: a new audit scans everything afresh. */
  AuditNotRetryable: 'AuditNotRetryable',
  /** No or a wrong bearer token where the manager's api_token (or api_token_read) is set. */
  Unauthorized: 'Unauthorized',
} as const;

export function jobStateName(state: JobStateDb): JobStateName {
  return JOB_STATE_NAMES[JOB_STATES.indexOf(state)]!;
}

export function jobActionName(action: JobActionDb): JobActionName {
  return action === 'evacuate' ? 'Evacuate' : action === 'audit' ? 'Audit' : 'None';
}
