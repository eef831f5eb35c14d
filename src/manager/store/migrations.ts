/**
 * The manager's schema, as numbered migrations applied at start-up. Each migration is a list of
 * statements run in one transaction together with its `schema_migrations` row, under an
 * advisory lock so that two managers starting at once cannot both apply it.
 */

import { UNSAFE_REASONS } from '../../api/audit.ts';
import type { Database } from '../../db/index.ts';
import { ASSIGNMENT_STATES, OBJECT_ERRORS, OBJECT_STATUSES, SKIP_REASONS } from './enums.ts';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly statements: readonly string[];
}

const list = (values: readonly string[]): string => values.map((v) => `'${v}'`).join(', ');

/** Job actions and states as migration 1 created them: a released migration's text never changes. */
const JOB_ACTIONS_V1 = ['evacuate', 'none'];
const JOB_STATES_V1 = ['init', 'setup', 'running', 'stopped', 'complete', 'failed'];
/** Skip reasons as migration 1 created them; later ones come with the migration adding them. */
const SKIP_REASONS_V1 = SKIP_REASONS.slice(0, SKIP_REASONS.indexOf('excluded_key_prefix') + 1);
const skipReasonCheck = (reasons: readonly string[]): string =>
  `CHECK (skipped_reason IN (${list(reasons)})
          OR skipped_reason ~ '^[{]http_status_code:[1-5][0-9][0-9][}]$')`;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'jobs, objects, assignments, duplicates, checkpoints, counts',
    statements: [
      `CREATE TABLE jobs (
        id uuid PRIMARY KEY,
        action text NOT NULL CHECK (action IN (${list(JOB_ACTIONS_V1)})),
        state text NOT NULL CHECK (state IN (${list(JOB_STATES_V1)})),
        params jsonb NOT NULL,
        from_shark jsonb NOT NULL,
        retry_of uuid REFERENCES jobs (id),
        metadata_threads integer NOT NULL CHECK (metadata_threads >= 1),
        result jsonb,
        error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`,
      'CREATE INDEX jobs_state ON jobs (state)',
      'CREATE INDEX jobs_created_at ON jobs (created_at)',
      `CREATE TABLE evacuate_objects (
        job_id uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        id text NOT NULL,
        key text NOT NULL,
        shard integer NOT NULL,
        etag text NOT NULL,
        object jsonb NOT NULL,
        status text NOT NULL CHECK (status IN (${list(OBJECT_STATUSES)})),
        skipped_reason text ${skipReasonCheck(SKIP_REASONS_V1)},
        error text CHECK (error IN (${list(OBJECT_ERRORS)})),
        error_detail text,
        assignment_id uuid,
        dest_shark text,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (job_id, id)
      )`,
      'CREATE INDEX evacuate_objects_status ON evacuate_objects (job_id, status, id)',
      `CREATE INDEX evacuate_objects_assignment ON evacuate_objects (assignment_id)
        WHERE assignment_id IS NOT NULL`,
      `CREATE TABLE assignments (
        id uuid PRIMARY KEY,
        job_id uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        dest_shark text NOT NULL,
        dest_datacenter text NOT NULL,
        state text NOT NULL CHECK (state IN (${list(ASSIGNMENT_STATES)})),
        task_count integer NOT NULL CHECK (task_count >= 0),
        total_bytes bigint NOT NULL CHECK (total_bytes >= 0),
        created_at timestamptz NOT NULL DEFAULT now(),
        posted_at timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`,
      'CREATE INDEX assignments_job_state ON assignments (job_id, state)',
      `CREATE TABLE duplicates (
        job_id uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        id text NOT NULL,
        key text NOT NULL,
        shard integer NOT NULL,
        object jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (job_id, id, key, shard)
      )`,
      `CREATE TABLE discovery_checkpoints (
        job_id uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        shard integer NOT NULL,
        cursor text,
        done boolean NOT NULL DEFAULT false,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (job_id, shard)
      )`,
      `CREATE TABLE job_counts (
        job_id uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        bucket text NOT NULL CHECK (bucket IN ('status', 'error', 'skip', 'duplicates')),
        name text NOT NULL,
        count bigint NOT NULL,
        PRIMARY KEY (job_id, bucket, name)
      )`,
    ],
  },
  {
    version: 2,
    // An assignment's objects are read and updated by (job_id, assignment_id): with only the
    // primary key and the assignment index, PostgreSQL may AND a scan of every row of the job
    // into the plan, so each lookup grew with the job (0.35 s at 100,000 objects).
    name: 'index objects by job and assignment',
    statements: [
      `CREATE INDEX evacuate_objects_job_assignment ON evacuate_objects (job_id, assignment_id)
        WHERE assignment_id IS NOT NULL`,
    ],
  },
  {
    version: 3,
    name: 'job state cancelled',
    statements: [
      'ALTER TABLE jobs DROP CONSTRAINT jobs_state_check',
      `ALTER TABLE jobs ADD CONSTRAINT jobs_state_check
        CHECK (state IN (${list([...JOB_STATES_V1, 'cancelled'])}))`,
    ],
  },
  {
    version: 4,
    // A cancel of a running job is recorded before the job winds down, so that a manager
    // restarted meanwhile resumes the job winding down instead of running it in full.
    name: 'durable cancel requests',
    statements: ['ALTER TABLE jobs ADD COLUMN cancel_requested_at timestamptz'],
  },
  {
    version: 5,
    // A retry records what its fresh read found: the object is no longer on the shark.
    name: 'skip reason object_not_on_shark',
    statements: [
      'ALTER TABLE evacuate_objects DROP CONSTRAINT evacuate_objects_skipped_reason_check',
      `ALTER TABLE evacuate_objects ADD CONSTRAINT evacuate_objects_skipped_reason_check
        ${skipReasonCheck(SKIP_REASONS.slice(0, SKIP_REASONS.indexOf('object_not_on_shark') + 1))}`,
    ],
  },
  {
    version: 6,
    // Every record naming the shark is rewritten, snaplinks (records sharing an objectId) too:
    // each duplicate keeps its own etag and ends complete or skipped with a reason.
    name: 'duplicates rewritten',
    statements: [
      `ALTER TABLE duplicates
         ADD COLUMN etag text NOT NULL DEFAULT '',
         ADD COLUMN status text NOT NULL DEFAULT 'pending'
           CHECK (status IN ('pending', 'complete', 'skipped')),
         ADD COLUMN reason text,
         ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now()`,
      'CREATE INDEX duplicates_pending ON duplicates (job_id, status)',
    ],
  },
  {
    version: 7,
    // Buckets (v2) objects: their shard numbers overlap Moray's, so checkpoints are keyed by
    // tier and objects carry theirs (L's rule for rows recorded before: `bucket_id` is v2),
    // with exact per-status counts of the v2 ones.
    name: 'metadata tiers',
    statements: [
      `ALTER TABLE evacuate_objects ADD COLUMN tier text NOT NULL DEFAULT 'moray'
         CHECK (tier IN ('moray', 'buckets'))`,
      `UPDATE evacuate_objects SET tier = 'buckets' WHERE object ? 'bucket_id'`,
      `ALTER TABLE discovery_checkpoints ADD COLUMN tier text NOT NULL DEFAULT 'moray'
         CHECK (tier IN ('moray', 'buckets'))`,
      'ALTER TABLE discovery_checkpoints DROP CONSTRAINT discovery_checkpoints_pkey',
      'ALTER TABLE discovery_checkpoints ADD PRIMARY KEY (job_id, tier, shard)',
      'ALTER TABLE job_counts DROP CONSTRAINT job_counts_bucket_check',
      `ALTER TABLE job_counts ADD CONSTRAINT job_counts_bucket_check
         CHECK (bucket IN ('status', 'error', 'skip', 'duplicates', 'buckets_status'))`,
      `INSERT INTO job_counts (job_id, bucket, name, count)
       SELECT job_id, 'buckets_status', status, count(*) FROM evacuate_objects
        WHERE tier = 'buckets' GROUP BY job_id, status`,
    ],
  },
  {
    version: 8,
    // Operator controls (issue 15): dry runs end `planned` with their plan; a paused job stays
    // paused across restarts; limits are kept with the job; notable events (pauses, limit
    // changes) are logged with it; bytes per status give progress in bytes; the end of
    // discovery makes the totals exact.
    name: 'plans, pause, limits, events, bytes',
    statements: [
      'ALTER TABLE jobs DROP CONSTRAINT jobs_state_check',
      `ALTER TABLE jobs ADD CONSTRAINT jobs_state_check
        CHECK (state IN (${list([...JOB_STATES_V1, 'cancelled', 'paused', 'planned'])}))`,
      'ALTER TABLE jobs ADD COLUMN dry_run boolean NOT NULL DEFAULT false',
      `ALTER TABLE jobs ADD COLUMN limits jsonb NOT NULL DEFAULT '{}'`,
      'ALTER TABLE jobs ADD COLUMN discovered_at timestamptz',
      `CREATE TABLE job_plans (
        job_id uuid PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
        plan jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`,
      `CREATE TABLE job_events (
        job_id uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        seq bigserial,
        at timestamptz NOT NULL DEFAULT now(),
        kind text NOT NULL,
        detail jsonb NOT NULL DEFAULT '{}',
        PRIMARY KEY (job_id, seq)
      )`,
      'ALTER TABLE job_counts DROP CONSTRAINT job_counts_bucket_check',
      `ALTER TABLE job_counts ADD CONSTRAINT job_counts_bucket_check
         CHECK (bucket IN ('status', 'error', 'skip', 'duplicates', 'buckets_status',
                           'bytes_status'))`,
      `INSERT INTO job_counts (job_id, bucket, name, count)
       SELECT job_id, 'bytes_status', status,
              sum(CASE WHEN jsonb_typeof(object -> 'contentLength') = 'number'
                  THEN greatest(0, (object ->> 'contentLength')::numeric)::bigint ELSE 0 END)
         FROM evacuate_objects
        GROUP BY job_id, status`,
    ],
  },
  {
    version: 9,
    // Single copies are copied from the evacuated shark itself; one that no longer answers
    // leaves them skipped, saying so.
    name: 'skip reason evacuated_shark_unreachable',
    statements: [
      'ALTER TABLE evacuate_objects DROP CONSTRAINT evacuate_objects_skipped_reason_check',
      `ALTER TABLE evacuate_objects ADD CONSTRAINT evacuate_objects_skipped_reason_check
        ${skipReasonCheck(
          SKIP_REASONS.slice(0, SKIP_REASONS.indexOf('evacuated_shark_unreachable') + 1),
        )}`,
    ],
  },
  {
    version: 10,
    // Convergence (issue 16): objects a round reopened carry its number, so each round's
    // report says what its objects became; a version a user rewrote meanwhile is replaced by
    // the new one, which names the one it replaces, and the old row says so.
    name: 'convergence rounds',
    statements: [
      'ALTER TABLE evacuate_objects ADD COLUMN converge_round smallint',
      'ALTER TABLE evacuate_objects ADD COLUMN replaces text',
      `CREATE INDEX evacuate_objects_round ON evacuate_objects (job_id, converge_round)
         WHERE converge_round IS NOT NULL`,
      'ALTER TABLE evacuate_objects DROP CONSTRAINT evacuate_objects_skipped_reason_check',
      `ALTER TABLE evacuate_objects ADD CONSTRAINT evacuate_objects_skipped_reason_check
        ${skipReasonCheck(SKIP_REASONS.slice(0, SKIP_REASONS.indexOf('object_rewritten') + 1))}`,
    ],
  },
  {
    version: 11,
    // The safe-to-remove audit (issue 16): a job of its own kind, or the end of an evacuation
    // (same job id). Its counts are kept with its cursors, written in one transaction, so a
    // resumed audit counts exactly; the cursors have their own table because an evacuation's
    // discovery checkpoints already use its job id.
    name: 'audits',
    statements: [
      'ALTER TABLE jobs DROP CONSTRAINT jobs_action_check',
      `ALTER TABLE jobs ADD CONSTRAINT jobs_action_check
        CHECK (action IN (${list([...JOB_ACTIONS_V1, 'audit'])}))`,
      `CREATE TABLE audits (
        job_id uuid PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
        shark text NOT NULL,
        deep boolean NOT NULL,
        state text NOT NULL CHECK (state IN ('running', 'complete', 'cancelled', 'failed')),
        scanned_v1 bigint NOT NULL DEFAULT 0,
        scanned_v2 bigint NOT NULL DEFAULT 0,
        safe bigint NOT NULL DEFAULT 0,
        only_copy bigint NOT NULL DEFAULT 0,
        other_copies_missing bigint NOT NULL DEFAULT 0,
        other_copies_unverified bigint NOT NULL DEFAULT 0,
        unreadable_record bigint NOT NULL DEFAULT 0,
        verdict text CHECK (verdict IN ('safe', 'unsafe')),
        error text,
        started_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz
      )`,
      'CREATE INDEX audits_shark ON audits (shark, started_at)',
      `CREATE TABLE audit_unsafe_objects (
        job_id uuid NOT NULL REFERENCES audits (job_id) ON DELETE CASCADE,
        key text NOT NULL,
        tier text NOT NULL CHECK (tier IN ('moray', 'buckets')),
        shard integer NOT NULL,
        -- '' for a record that could not be read (no objectId to name).
        object_id text NOT NULL,
        reason text NOT NULL CHECK (reason IN (${list(UNSAFE_REASONS)})),
        PRIMARY KEY (job_id, key, tier, shard, object_id)
      )`,
      `CREATE TABLE audit_checkpoints (
        job_id uuid NOT NULL REFERENCES audits (job_id) ON DELETE CASCADE,
        tier text NOT NULL CHECK (tier IN ('moray', 'buckets')),
        shard integer NOT NULL,
        cursor text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (job_id, tier, shard)
      )`,
    ],
  },
  {
    version: 12,
    // The console's progress chart (issue 17): a job's settled objects and bytes every few
    // seconds of its life, so its history survives a manager restart.
    name: 'job progress samples',
    statements: [
      `CREATE TABLE job_progress_samples (
        job_id uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        at timestamptz NOT NULL,
        objects_done bigint NOT NULL CHECK (objects_done >= 0),
        bytes_done bigint NOT NULL CHECK (bytes_done >= 0),
        PRIMARY KEY (job_id, at)
      )`,
    ],
  },
  {
    version: 13,
    // Finished jobs are deleted (issue 19): a retry outlives the job it retried, losing only
    // the link; every other table already goes with its job (ON DELETE CASCADE).
    name: 'retry_of set null when its job is deleted',
    statements: [
      'ALTER TABLE jobs DROP CONSTRAINT jobs_retry_of_fkey',
      `ALTER TABLE jobs ADD CONSTRAINT jobs_retry_of_fkey
        FOREIGN KEY (retry_of) REFERENCES jobs (id) ON DELETE SET NULL`,
    ],
  },
  {
    version: 14,
    // Every read by assignment names the job too (version 2's index serves it), and each of
    // an object's four or five status changes writes an entry into every index of the table
    // (status is indexed: no update is HOT), which each vacuum then scans whole.
    name: 'drop the objects index by assignment alone',
    statements: ['DROP INDEX IF EXISTS evacuate_objects_assignment'],
  },
];

const LOCK_KEY = 0x7265_6261; // "reba": serialises concurrent migrators

/** Applies every migration not yet recorded; returns the versions applied now. */
export async function migrate(
  db: Database,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<number[]> {
  await db.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
  )`);
  const applied: number[] = [];
  for (const migration of migrations) {
    const done = await db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
      const seen = await tx.query('SELECT 1 FROM schema_migrations WHERE version = $1', [
        migration.version,
      ]);
      if (seen.rowCount > 0) return false;
      for (const statement of migration.statements) await tx.query(statement);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
        migration.version,
        migration.name,
      ]);
      return true;
    });
    if (done) applied.push(migration.version);
  }
  return applied;
}
