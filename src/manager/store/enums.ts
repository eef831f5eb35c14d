/**
 * The database string forms of object statuses, skip reasons and errors (manager.md
 * §4.14–§4.16), exactly as L stores them, plus the reasons this manager adds. A value read
 * back that is not one of these is an error, never a default (IMP-9).
 */
import { JOB_ACTIONS, JOB_STATES, type JobActionDb, type JobStateDb } from '../../api/manager.ts';
import { RebalancerError } from '../../errors.ts';

export const OBJECT_STATUSES = [
  'unprocessed',
  'assigned',
  'skipped',
  'error',
  'post_processing',
  'complete',
] as const;
export type ObjectStatus = (typeof OBJECT_STATUSES)[number];
export const TERMINAL_OBJECT_STATUSES: ReadonlySet<ObjectStatus> = new Set([
  'skipped',
  'error',
  'complete',
]);

/**
 * L's unit skip reasons (§4.15), then ours: metadata changed or vanished under us (§13.3), and
 * objects kept out by `exclude_key_prefixes`, recorded rather than dropped (§13.17).
 */
export const SKIP_REASONS = [
  'agent_fs_error',
  'agent_assignment_no_ent',
  'agent_busy',
  'assignment_error',
  'assignment_mismatch',
  'assignment_rejected',
  'destination_insufficient_space',
  'destination_unreachable',
  'md5_mismatch',
  'network_error',
  'object_already_on_dest_shark',
  'object_already_in_datacenter',
  'source_other_error',
  'source_object_not_found',
  'source_is_evac_shark',
  'mpu_part_no_data',
  'agent_assignment_timeout',
  'metadata_etag_mismatch',
  'metadata_object_not_found',
  'excluded_key_prefix',
  // A retry's fresh read found the record no longer names the shark (moved since).
  'object_not_on_shark',
  // The only copy was on the evacuated shark, and that shark did not answer the agent.
  'evacuated_shark_unreachable',
  // Convergence found the user had rewritten it: the new version was taken in its place.
  'object_rewritten',
] as const;
export type UnitSkipReasonDb = (typeof SKIP_REASONS)[number];
/** A skip reason as stored: a unit name or `{http_status_code:N}`. */
export type SkipReasonDb = UnitSkipReasonDb | `{http_status_code:${number}}`;

/** L's EvacuateObjectError strings (§4.16). */
export const OBJECT_ERRORS = [
  'bad_moray_client',
  'bad_moray_object',
  'bad_manta_object',
  'bad_shard_number',
  'duplicate_shark',
  'internal_error',
  'metadata_update_failed',
  'moray_update_failed',
  'moray_etag_mismatch',
  'moray_object_not_found',
  'mdapi_update_failed',
  'mdapi_etag_mismatch',
  'mdapi_object_not_found',
  'missing_sharks',
  'bad_content_length',
] as const;
export type ObjectErrorDb = (typeof OBJECT_ERRORS)[number];

/**
 * Where an object's metadata lives: Moray's `manta` bucket (v1) or buckets-mdapi (v2). Shard
 * numbers of the two tiers overlap, so a shard is always named with its tier.
 */
export const METADATA_TIERS = ['moray', 'buckets'] as const;
export type MetadataTier = (typeof METADATA_TIERS)[number];

/** L's rule: a record with a `bucket_id` member (even null) is a buckets (v2) object. */
export function tierOf(value: { bucket_id?: unknown } | undefined): MetadataTier {
  return value !== undefined && 'bucket_id' in value ? 'buckets' : 'moray';
}

export const ASSIGNMENT_STATES = [
  'init',
  'assigned',
  'rejected',
  'agent_unavailable',
  'agent_complete',
  'post_processed',
] as const;
export type AssignmentState = (typeof ASSIGNMENT_STATES)[number];

/** A stored value outside its enumeration: corruption or a schema mismatch. */
export class UnknownStoredValueError extends RebalancerError {
  override readonly name = 'UnknownStoredValueError';
  readonly code = 'unknown_stored_value';
  constructor(
    readonly column: string,
    readonly value: unknown,
  ) {
    super(`unknown ${column} value in the database: ${JSON.stringify(value)}`);
  }
}

function parser<T extends string>(column: string, values: readonly T[]): (v: unknown) => T {
  const set: ReadonlySet<string> = new Set(values);
  return (v) => {
    if (typeof v === 'string' && set.has(v)) return v as T;
    throw new UnknownStoredValueError(column, v);
  };
}

export const parseObjectStatus = parser<ObjectStatus>('status', OBJECT_STATUSES);
export const parseObjectError = parser<ObjectErrorDb>('error', OBJECT_ERRORS);
export const parseJobState = parser<JobStateDb>('job state', JOB_STATES);
export const parseJobAction = parser<JobActionDb>('job action', JOB_ACTIONS);
export const parseTier = parser<MetadataTier>('tier', METADATA_TIERS);
export const parseAssignmentState = parser<AssignmentState>('assignment state', ASSIGNMENT_STATES);

const UNIT_REASONS: ReadonlySet<string> = new Set(SKIP_REASONS);
const HTTP_REASON = /^\{http_status_code:([1-5][0-9]{2})\}$/;

export function isSkipReason(value: unknown): value is SkipReasonDb {
  return typeof value === 'string' && (UNIT_REASONS.has(value) || HTTP_REASON.test(value));
}

export function parseSkipReason(value: unknown): SkipReasonDb {
  if (isSkipReason(value)) return value;
  throw new UnknownStoredValueError('skipped_reason', value);
}

/** Metric label of a skip reason: the HTTP code is dropped (manager.md §8.1). */
export function skipReasonLabel(reason: SkipReasonDb): string {
  return reason.startsWith('{') ? 'http_status_code' : reason;
}
