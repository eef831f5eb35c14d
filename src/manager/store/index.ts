/** The manager's durable store: one facade over the SQL modules of this directory. */
import type { StorageNode } from '../../api/common.ts';
import type { JobStateDb } from '../../api/manager.ts';
import type { Database } from '../../db/index.ts';
import type { MantaObjectValue } from '../../manta/index.ts';
import * as assignments from './assignments.ts';
import { type CountRow, readCounts } from './counts.ts';
import * as duplicates from './duplicates.ts';
import type { AssignmentState, ObjectStatus } from './enums.ts';
import * as jobs from './jobs.ts';
import { migrate } from './migrations.ts';
import type {
  AssignedObject,
  ObjectLocation,
  RecordedObject,
  StoredObject,
} from './object-rows.ts';
import * as objects from './objects.ts';

export type { AssignmentRecord, NewAssignment } from './assignments.ts';
export type { CountRow } from './counts.ts';
export type { DuplicateRecord, DuplicateStatus, DuplicateToRewrite } from './duplicates.ts';
export * from './enums.ts';
export type { EvacuateJobParams, JobRecord, NewJob } from './jobs.ts';
export { NON_TERMINAL_JOB_STATES, TERMINAL_JOB_STATES } from './jobs.ts';
export { MIGRATIONS, migrate } from './migrations.ts';
export type {
  AssignedObject,
  DiscoveredObject,
  ObjectLocation,
  RecordedObject,
  StoredObject,
} from './object-rows.ts';
export type {
  DiscoveryCheckpoint,
  ObjectTarget,
  RecordResult,
  TransitionGroup,
} from './objects.ts';
export { IllegalTransitionError } from './objects.ts';
export { StoredRecordError } from './records.ts';

export class ManagerStore {
  constructor(readonly db: Database) {}

  /** Applies pending migrations and returns a store over `db`. */
  static async open(db: Database): Promise<ManagerStore> {
    await migrate(db);
    return new ManagerStore(db);
  }

  createJob(job: jobs.NewJob): Promise<jobs.JobRecord> {
    return jobs.insertJob(this.db, job);
  }
  getJob(id: string): Promise<jobs.JobRecord | undefined> {
    return jobs.getJob(this.db, id);
  }
  listJobs(): Promise<jobs.JobRecord[]> {
    return jobs.listJobs(this.db);
  }
  jobsInStates(states: readonly JobStateDb[]): Promise<jobs.JobRecord[]> {
    return jobs.jobsInStates(this.db, states);
  }
  setJobState(
    id: string,
    from: readonly JobStateDb[],
    to: JobStateDb,
    error?: string,
  ): Promise<jobs.JobRecord | undefined> {
    return jobs.setJobState(this.db, id, from, to, error);
  }
  requestJobCancel(id: string): Promise<jobs.JobRecord | undefined> {
    return jobs.requestJobCancel(this.db, id);
  }
  setJobFromShark(id: string, ref: StorageNode): Promise<void> {
    return jobs.setJobFromShark(this.db, id, ref);
  }
  setJobMetadataThreads(id: string, n: number): Promise<void> {
    return jobs.setJobMetadataThreads(this.db, id, n);
  }
  counts(jobId: string): Promise<CountRow[]> {
    return readCounts(this.db, jobId);
  }

  recordDiscovered(
    jobId: string,
    batch: readonly RecordedObject[],
    checkpoint?: objects.DiscoveryCheckpoint,
  ): Promise<objects.RecordResult> {
    return objects.recordDiscovered(this.db, jobId, batch, checkpoint);
  }
  recordFailed(
    jobId: string,
    object: ObjectLocation,
    error: Parameters<typeof objects.recordFailed>[3],
    detail: string,
  ): Promise<boolean> {
    return objects.recordFailed(this.db, jobId, object, error, detail);
  }
  loadCheckpoints(jobId: string): Promise<objects.DiscoveryCheckpoint[]> {
    return objects.loadCheckpoints(this.db, jobId);
  }
  objectsByStatus(
    jobId: string,
    status: ObjectStatus,
    afterId: string | undefined,
    limit: number,
  ): Promise<StoredObject[]> {
    return objects.objectsByStatus(this.db, jobId, status, afterId, limit);
  }
  objectsOfAssignment(
    jobId: string,
    assignmentId: string,
    status?: ObjectStatus,
  ): Promise<AssignedObject[]> {
    return objects.objectsOfAssignment(this.db, jobId, assignmentId, status);
  }
  getObject(jobId: string, id: string): Promise<StoredObject | undefined> {
    return objects.getObject(this.db, jobId, id);
  }
  transition(jobId: string, groups: readonly objects.TransitionGroup[]): Promise<string[][]> {
    return objects.transitionObjects(this.db, jobId, groups);
  }
  duplicatesToRewrite(jobId: string, limit: number): Promise<duplicates.DuplicateToRewrite[]> {
    return duplicates.duplicatesToRewrite(this.db, jobId, limit);
  }
  settleDuplicate(
    jobId: string,
    d: { id: string; key: string; shard: number },
    status: 'complete' | 'skipped',
    reason?: string,
  ): Promise<void> {
    return duplicates.settleDuplicate(this.db, jobId, d, status, reason);
  }
  skipUnmovedDuplicates(jobId: string): Promise<number> {
    return duplicates.skipUnmovedDuplicates(this.db, jobId);
  }
  listDuplicates(
    jobId: string,
    after: { id: string; key: string; shard: number } | undefined,
    limit: number,
  ): Promise<duplicates.DuplicateRecord[]> {
    return duplicates.listDuplicates(this.db, jobId, after, limit);
  }
  placeAgainFromLive(
    jobId: string,
    live: readonly { id: string; etag: string; object: MantaObjectValue }[],
  ): Promise<string[]> {
    return objects.placeAgainFromLive(this.db, jobId, live);
  }

  createAssignment(
    jobId: string,
    a: assignments.NewAssignment,
  ): Promise<{ assignment: assignments.AssignmentRecord; objectIds: string[] } | undefined> {
    return assignments.createAssignment(this.db, jobId, a);
  }
  setAssignmentState(
    id: string,
    from: readonly AssignmentState[],
    to: AssignmentState,
  ): Promise<boolean> {
    return assignments.setAssignmentState(this.db, id, from, to);
  }
  assignmentsInStates(
    jobId: string,
    states: readonly AssignmentState[],
  ): Promise<assignments.AssignmentRecord[]> {
    return assignments.assignmentsInStates(this.db, jobId, states);
  }
  getAssignment(id: string): Promise<assignments.AssignmentRecord | undefined> {
    return assignments.getAssignment(this.db, id);
  }
}
