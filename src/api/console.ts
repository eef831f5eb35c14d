/**
 * What the web console reads about one job (issue 17): its events, its progress over its whole
 * life, and what its agents and the metadata shards are doing now. Query strings are strings
 * (nothing is coerced, src/api/validation.ts), so numbers in them are patterns here and the
 * bounds are the patterns' own.
 */
import { type Static, Type } from 'typebox';

const Count = Type.Integer({ minimum: 0 });
const Rate = Type.Number({ minimum: 0 });

/** Every kind of job event (the manager's `job_events` table stores exactly these). */
export const JOB_EVENT_KINDS = [
  'created',
  'started',
  'resumed_after_restart',
  'paused',
  'resumed',
  'limits_changed',
  'metadata_threads_changed',
  'stalled',
  'unstalled',
  'cancel_requested',
  'discovery_complete',
  'planned',
  'convergence_round',
] as const;
export type JobEventKind = (typeof JOB_EVENT_KINDS)[number];

export const JobEventsQuery = Type.Object(
  {
    /** Events after this sequence number (default 0: from the first). */
    after: Type.Optional(Type.String({ pattern: '^(0|[1-9][0-9]{0,14})$' })),
    /** 1..1000, default 200. */
    limit: Type.Optional(Type.String({ pattern: '^([1-9][0-9]{0,2}|1000)$' })),
  },
  { additionalProperties: false },
);
export type JobEventsQuery = Static<typeof JobEventsQuery>;

export const JobEventEntry = Type.Object(
  {
    seq: Type.Integer({ minimum: 1 }),
    at: Type.String(),
    kind: Type.Enum([...JOB_EVENT_KINDS]),
    detail: Type.Record(Type.String(), Type.Unknown()),
  },
  { title: 'JobEvent' },
);

/** Oldest first; the next page is `?after=<the last seq>`. */
export const JobEventList = Type.Object(
  { events: Type.Array(JobEventEntry) },
  { title: 'JobEventList' },
);
export type JobEventList = Static<typeof JobEventList>;

export const JobHistoryQuery = Type.Object(
  {
    /** At most this many samples, 2..1000 (default 300), evenly spread, first and last kept. */
    points: Type.Optional(Type.String({ pattern: '^([2-9]|[1-9][0-9]{1,2}|1000)$' })),
  },
  { additionalProperties: false },
);
export type JobHistoryQuery = Static<typeof JobHistoryQuery>;

export const JobHistorySample = Type.Object(
  {
    at: Type.String(),
    objects_done: Count,
    bytes_done: Count,
    /** Since the previous sample returned (0 for the first). */
    objects_per_second: Rate,
    bytes_per_second: Rate,
  },
  { title: 'JobHistorySample' },
);

/** The job's progress over its life, oldest first, as recorded across manager restarts. */
export const JobHistory = Type.Object(
  { samples: Type.Array(JobHistorySample) },
  { title: 'JobHistory' },
);
export type JobHistory = Static<typeof JobHistory>;

export const AgentActivity = Type.Object(
  {
    manta_storage_id: Type.String(),
    datacenter: Type.String(),
    /** Assignments stored, not yet posted to the agent. */
    assignments_queued: Count,
    /** Assignments posted, not yet finished by the agent. */
    assignments_on_agent: Count,
    tasks_on_agent: Count,
    /** Tasks of the assignments the agent finished. */
    objects_done: Count,
    /** Over the last minute, from the assignments finished in it. */
    objects_per_second: Rate,
    bytes_per_second: Rate,
  },
  { title: 'AgentActivity' },
);

export const MetadataShardActivity = Type.Object(
  {
    /** v1: Moray; v2: buckets-mdapi. */
    tier: Type.Enum(['v1', 'v2']),
    shard: Type.Integer({ minimum: 0 }),
    /** Measured over all jobs. */
    updates_per_second: Rate,
    /** The fleet-wide budget per shard; null: unlimited. */
    budget: Type.Union([Rate, Type.Null()]),
  },
  { title: 'MetadataShardActivity' },
);

/** The job's agents, and the metadata shards every job shares. */
export const JobActivity = Type.Object(
  {
    agents: Type.Array(AgentActivity),
    metadata_shards: Type.Array(MetadataShardActivity),
  },
  { title: 'JobActivity' },
);
export type JobActivity = Static<typeof JobActivity>;
