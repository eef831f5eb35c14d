/** The manager's durable store: one facade over the SQL modules of this directory. */
import type { StorageNode } from '../../api/common.ts';
import type { JobLimits } from '../../api/limits.ts';
import type { JobStateDb } from '../../api/manager.ts';
import type { JobPlan } from '../../api/plan.ts';
import type { Database } from '../../db/index.ts';
import type { MantaObjectValue } from '../../manta/index.ts';
import * as activity from './assignment-activity.ts';
import * as assignments from './assignments.ts';
import * as audits from './audits.ts';
import * as convergence from './convergence.ts';
import { type CountRow, readCounts } from './counts.ts';
import * as duplicates from './duplicates.ts';
import type { AssignmentState, ObjectStatus } from './enums.ts';
import * as events from './events.ts';
import { JobDataStore } from './job-data.ts';
import * as jobs from './jobs.ts';
import { migrate } from './migrations.ts';
import type {
  AssignedObject,
  ObjectLocation,
  RecordedObject,
  StoredObject,
} from './object-rows.ts';
import * as objects from './objects.ts';
import * as plans from './plans.ts';
import * as samples from './progress-samples.ts';

export type { AssignmentRecord, NewAssignment } from './assignments.ts';
export type { AuditCursor, AuditedObject, AuditRecord } from './audits.ts';
export type { ConvergeApplied, ConvergeChange, RoundOutcome } from './convergence.ts';
export { CURABLE_ERRORS, CURABLE_SKIP_REASONS } from './convergence.ts';
export type { CountRow } from './counts.ts';
export type { DuplicateRecord, DuplicateStatus, DuplicateToRewrite } from './duplicates.ts';
export * from './enums.ts';
export type { JobEvent, JobEventKind } from './events.ts';
export { JOB_EVENT_KINDS } from './events.ts';
export type { JobObjectFilter, JobObjectRecord } from './job-data.ts';
export type { EvacuateJobParams, JobRecord, NewJob } from './jobs.ts';
export { NON_TERMINAL_JOB_STATES, TERMINAL_JOB_STATES, UNLIMITED } from './jobs.ts';
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
  /** A job's objects for operators, and the deletion of finished jobs (job-data.ts). */
  get jobData(): JobDataStore {
    return new JobDataStore(this.db);
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
  setJobLimits(id: string, limits: JobLimits): Promise<jobs.JobRecord | undefined> {
    return jobs.setJobLimits(this.db, id, limits);
  }
  setJobDiscovered(id: string): Promise<void> {
    return jobs.setJobDiscovered(this.db, id);
  }
  recordJobEvent(
    jobId: string,
    kind: events.JobEventKind,
    detail?: Record<string, unknown>,
  ): Promise<void> {
    return events.recordJobEvent(this.db, jobId, kind, detail);
  }
  listJobEvents(
    jobId: string,
    afterSeq: number,
    limit: number,
    kind?: events.JobEventKind,
  ): Promise<events.JobEvent[]> {
    return events.listJobEvents(this.db, jobId, afterSeq, limit, kind);
  }
  savePlan(jobId: string, plan: JobPlan): Promise<void> {
    return plans.savePlan(this.db, jobId, plan);
  }
  getPlan(jobId: string): Promise<JobPlan | undefined> {
    return plans.getPlan(this.db, jobId);
  }
  latestPlanOf(shark: string): Promise<JobPlan | undefined> {
    return plans.latestPlanOf(this.db, shark);
  }
  counts(jobId: string): Promise<CountRow[]> {
    return readCounts(this.db, jobId);
  }
  recordProgressSample(jobId: string, sample: samples.ProgressSample): Promise<void> {
    return samples.recordProgressSample(this.db, jobId, sample);
  }
  progressSamples(jobId: string, points: number): Promise<samples.ProgressSample[]> {
    return samples.progressSamples(this.db, jobId, points);
  }
  assignmentsPerAgent(jobId: string, windowMs: number): Promise<activity.AgentAssignments[]> {
    return activity.assignmentsPerAgent(this.db, jobId, windowMs);
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
  /** A page of the job's objects a fresh look may cure that `round` has not taken yet. */
  curableObjects(
    jobId: string,
    round: number,
    afterId: string | undefined,
    limit: number,
  ): Promise<StoredObject[]> {
    return convergence.curableObjects(this.db, jobId, round, afterId, limit);
  }
  countCurable(jobId: string, round: number): Promise<number> {
    return convergence.countCurable(this.db, jobId, round);
  }
  applyConvergence(
    jobId: string,
    round: number,
    changes: readonly convergence.ConvergeChange[],
  ): Promise<convergence.ConvergeApplied> {
    return convergence.applyConvergence(this.db, jobId, round, changes);
  }
  roundOutcome(jobId: string, round: number): Promise<convergence.RoundOutcome[]> {
    return convergence.roundOutcome(this.db, jobId, round);
  }
  lastConvergeRound(jobId: string): Promise<number> {
    return convergence.lastRound(this.db, jobId);
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

  /** Starts the job's audit, or resumes one not complete (see audits.ts). */
  startAudit(audit: { jobId: string; shark: string; deep: boolean }): Promise<audits.AuditRecord> {
    return audits.startAudit(this.db, audit);
  }
  getAudit(jobId: string): Promise<audits.AuditRecord | undefined> {
    return audits.getAudit(this.db, jobId);
  }
  /** The shark's newest complete audit (none: the shark was never proven safe to remove). */
  latestAuditOf(shark: string): Promise<audits.AuditRecord | undefined> {
    return audits.latestAuditOf(this.db, shark);
  }
  /** The shark's newest audit, running or finished. */
  newestAuditOf(shark: string): Promise<audits.AuditRecord | undefined> {
    return audits.newestAuditOf(this.db, shark);
  }
  auditCursors(jobId: string): Promise<audits.AuditCursor[]> {
    return audits.auditCursors(this.db, jobId);
  }
  recordAudited(
    jobId: string,
    objects: readonly audits.AuditedObject[],
    cursor?: audits.AuditCursor,
  ): Promise<void> {
    return audits.recordAudited(this.db, jobId, objects, cursor);
  }
  finishAudit(
    jobId: string,
    end: Parameters<typeof audits.finishAudit>[2],
  ): Promise<audits.AuditRecord | undefined> {
    return audits.finishAudit(this.db, jobId, end);
  }
  unsafeObjects(
    jobId: string,
    after: string | undefined,
    limit: number,
  ): Promise<audits.AuditedObject[]> {
    return audits.unsafeObjects(this.db, jobId, after, limit);
  }
}
