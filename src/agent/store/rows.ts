/** Rows of the agent store as the rest of the agent sees them, and their SQLite shapes. */
import { makeTask, type Task, type TaskStatus } from '../../api/common.ts';

export type AssignmentState = 'scheduled' | 'running' | 'complete';

export interface AssignmentRow {
  readonly seq: number;
  readonly uuid: string;
  readonly state: AssignmentState;
  readonly total: number;
  readonly complete: number;
  readonly failed: number;
  readonly receivedAt: number;
  readonly completedAt: number | null;
}

/** A task as the scheduler sees it: its position in the assignment plus the wire fields. */
export interface TaskRow {
  readonly assignmentSeq: number;
  readonly idx: number;
  readonly task: Task;
}

/** An `assignments` row as SQLite returns it. */
export interface RawAssignment {
  seq: number;
  uuid: string;
  state: AssignmentState;
  total: number;
  complete: number;
  failed: number;
  received_at: number;
  completed_at: number | null;
}

/** A `tasks` row as SQLite returns it. */
export interface RawTask {
  assignment_seq: number;
  idx: number;
  object_id: string;
  owner: string;
  md5sum: string;
  datacenter: string;
  manta_storage_id: string;
  bucket_id: string | null;
  object_name_hash: string | null;
  reason?: string | Buffer | null;
}

export function toRow(raw: RawAssignment): AssignmentRow {
  return {
    seq: raw.seq,
    uuid: raw.uuid,
    state: raw.state,
    total: raw.total,
    complete: raw.complete,
    failed: raw.failed,
    receivedAt: raw.received_at,
    completedAt: raw.completed_at,
  };
}

export function taskOf(raw: RawTask, status: TaskStatus): Task {
  return makeTask({
    object_id: raw.object_id,
    owner: raw.owner,
    md5sum: raw.md5sum,
    source: { datacenter: raw.datacenter, manta_storage_id: raw.manta_storage_id },
    status,
    bucket_id: raw.bucket_id ?? undefined,
    object_name_hash: raw.object_name_hash ?? undefined,
  });
}
