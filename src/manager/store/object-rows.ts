/**
 * The objects of evacuate jobs as the store hands them out, and how a row read back becomes
 * one: its record checked (the database is a boundary, records.ts), its enums parsed.
 */
import type { MantaObjectValue } from '../../manta/index.ts';
import {
  type MetadataTier,
  type ObjectErrorDb,
  type ObjectStatus,
  parseObjectError,
  parseObjectStatus,
  parseSkipReason,
  parseTier,
  type SkipReasonDb,
  tierOf,
} from './enums.ts';
import { requiredRecord, storedRecord } from './records.ts';

/** Where an object was found. */
export interface ObjectLocation {
  /** Manta `objectId`. */
  id: string;
  key: string;
  shard: number;
  /** The tier `shard` belongs to; absent: the record's (moray unless it has a `bucket_id`). */
  tier?: MetadataTier;
}

/** The tier of an object being recorded. */
export function tierOfObject(o: {
  tier?: MetadataTier;
  object?: { bucket_id?: unknown };
}): MetadataTier {
  return o.tier ?? tierOf(o.object);
}

/** An object as discovery reports it: its Manta record and where it was found. */
export interface DiscoveredObject extends ObjectLocation {
  /** The etag at discovery time, for the conditional metadata update. */
  etag: string;
  object: MantaObjectValue;
}

/** An object a job records: a discovered one, or one recorded and skipped at once. */
export interface RecordedObject extends ObjectLocation {
  etag: string;
  /** Undefined when there is none usable: excluded before its record was read, or malformed. */
  object: MantaObjectValue | undefined;
}

/** What became of a recorded object. */
interface ObjectProgress {
  status: ObjectStatus;
  skippedReason: SkipReasonDb | undefined;
  error: ObjectErrorDb | undefined;
  errorDetail: string | undefined;
  assignmentId: string | undefined;
  destShark: string | undefined;
}

export interface StoredObject extends RecordedObject, ObjectProgress {
  tier: MetadataTier;
}

/** An object of an assignment: it was placed from its record, so it has one. */
export interface AssignedObject extends DiscoveredObject, ObjectProgress {
  tier: MetadataTier;
}

export interface ObjectRow extends Record<string, unknown> {
  id: string;
  key: string;
  shard: number;
  tier: string;
  etag: string;
  object: unknown;
  status: string;
  skipped_reason: string | null;
  error: string | null;
  error_detail: string | null;
  assignment_id: string | null;
  dest_shark: string | null;
}

export const OBJECT_COLUMNS =
  'id, key, shard, tier, etag, object, status, skipped_reason, error, error_detail, assignment_id, dest_shark';

/** A row read back; its record, if any, is left to the caller. */
function fieldsOf(row: ObjectRow): Omit<StoredObject, 'object'> {
  return {
    id: row.id,
    key: row.key,
    shard: row.shard,
    tier: parseTier(row.tier),
    etag: row.etag,
    status: parseObjectStatus(row.status),
    skippedReason: row.skipped_reason === null ? undefined : parseSkipReason(row.skipped_reason),
    error: row.error === null ? undefined : parseObjectError(row.error),
    errorDetail: row.error_detail ?? undefined,
    assignmentId: row.assignment_id ?? undefined,
    destShark: row.dest_shark ?? undefined,
  };
}

/** A row read back, with its record when it holds a usable one. */
export function toStored(row: ObjectRow): StoredObject {
  return { ...fieldsOf(row), object: storedRecord(row.object) };
}

/** A row of an object placed from its record: one without is a StoredRecordError. */
export function toAssigned(row: ObjectRow): AssignedObject {
  return { ...fieldsOf(row), object: requiredRecord(row.object, `evacuate_objects ${row.id}`) };
}
