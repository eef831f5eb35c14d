/**
 * Every route of the manager's HTTP API (manager.md §2), declared once: the manager's server
 * registers them from here and rebalancer-adm checks every answer against them. Error
 * answers are `{code, message}` with the statuses below (§13.10); L answered errors with plain
 * text, so clients decide on the status and read `message` only from a body that matches.
 */
import { Type } from 'typebox';
import { AuditQuery, AuditReport, SharkParams } from './audit.ts';
import {
  JobActivity,
  JobEventList,
  JobEventsQuery,
  JobHistory,
  JobHistoryQuery,
} from './console.ts';
import { Fleet } from './fleet.ts';
import type { RouteDecl } from './http-routes.ts';
import { JobDeleted, JobObjectList, JobObjectsQuery } from './job-objects.ts';
import {
  CreateJobPayload,
  DuplicateList,
  DuplicateQuery,
  JobCreated,
  JobList,
  JobParams,
  JobStatus,
  ManagerError,
  UpdateJobPayload,
} from './manager.ts';
import {
  DeleteOrphansPayload,
  OrphanDeleteBody,
  OrphanListBody,
  OrphanParams,
  OrphanQuery,
} from './orphans.ts';
import { JobPlan } from './plan.ts';

const errors = {
  400: ManagerError,
  401: ManagerError,
  404: ManagerError,
  409: ManagerError,
  413: ManagerError,
  500: ManagerError,
  503: ManagerError,
} as const;

const tags = ['jobs'] as const;

export const managerRoutes = {
  createJob: {
    method: 'POST',
    url: '/jobs',
    operationId: 'create_job',
    summary: 'Create a job',
    tags,
    body: CreateJobPayload,
    response: { 200: JobCreated, ...errors },
    successEncoding: 'text',
  },
  listJobs: {
    method: 'GET',
    url: '/jobs',
    operationId: 'list_jobs',
    summary: 'List jobs',
    tags,
    response: { 200: JobList, ...errors },
  },
  getJob: {
    method: 'GET',
    url: '/jobs/:uuid',
    operationId: 'get_job',
    summary: 'Get the status of a job',
    tags,
    params: JobParams,
    response: { 200: JobStatus, ...errors },
  },
  listJobDuplicates: {
    method: 'GET',
    url: '/jobs/:uuid/duplicates',
    operationId: 'list_job_duplicates',
    summary: 'List the records sharing an objectId with moved objects (snaplinks)',
    tags,
    params: JobParams,
    querystring: DuplicateQuery,
    response: { 200: DuplicateList, ...errors },
  },
  getJobPlan: {
    method: 'GET',
    url: '/jobs/:uuid/plan',
    operationId: 'get_job_plan',
    summary: 'Get the plan of a dry run (404 until it has one)',
    tags,
    params: JobParams,
    response: { 200: JobPlan, ...errors },
  },
  updateJob: {
    method: 'PUT',
    url: '/jobs/:uuid',
    operationId: 'update_job',
    summary: 'Tune a running or paused job: metadata threads, or its limits',
    tags,
    params: JobParams,
    body: UpdateJobPayload,
    response: { 200: Type.Null(), ...errors },
  },
  retryJob: {
    method: 'POST',
    url: '/jobs/:uuid/retry',
    operationId: 'retry_job',
    summary: 'Retry the skipped and failed objects of a finished job',
    tags,
    params: JobParams,
    response: { 200: JobCreated, ...errors },
    successEncoding: 'text',
  },
  cancelJob: {
    method: 'POST',
    url: '/jobs/:uuid/cancel',
    operationId: 'cancel_job',
    summary: 'Cancel a job that has not finished',
    tags,
    params: JobParams,
    response: { 200: JobStatus, ...errors },
  },
  pauseJob: {
    method: 'POST',
    url: '/jobs/:uuid/pause',
    operationId: 'pause_job',
    summary: 'Pause a running job: nothing new starts, work on agents finishes',
    tags,
    params: JobParams,
    response: { 200: JobStatus, ...errors },
  },
  resumeJob: {
    method: 'POST',
    url: '/jobs/:uuid/resume',
    operationId: 'resume_job',
    summary: 'Resume a paused job',
    tags,
    params: JobParams,
    response: { 200: JobStatus, ...errors },
  },
  getSharkAudit: {
    method: 'GET',
    url: '/sharks/:id/audit',
    operationId: 'get_shark_audit',
    summary:
      "A shark's latest safe-to-remove audit (or ?job=<uuid>), its unsafe objects paged by key (404 until it has one)",
    tags,
    params: SharkParams,
    querystring: AuditQuery,
    response: { 200: AuditReport, ...errors },
  },
  /** NDJSON (src/api/orphans.ts): progress, the orphans, then a summary or an error line. */
  listOrphans: {
    method: 'GET',
    url: '/sharks/:id/orphans',
    operationId: 'list_orphans',
    summary: "The files on a shark's mako that no live metadata names (application/x-ndjson)",
    tags,
    params: OrphanParams,
    querystring: OrphanQuery,
    response: { 200: OrphanListBody, ...errors },
    successEncoding: 'text',
  },
  deleteOrphans: {
    method: 'POST',
    url: '/sharks/:id/orphans/delete',
    operationId: 'delete_orphans',
    summary:
      "Delete a shark's orphans, listed afresh; 409 unless its latest audit says safe (application/x-ndjson)",
    tags,
    params: OrphanParams,
    body: DeleteOrphansPayload,
    response: { 200: OrphanDeleteBody, ...errors },
    successEncoding: 'text',
  },
  listSharks: {
    method: 'GET',
    url: '/sharks',
    operationId: 'list_sharks',
    summary: "The storage fleet in storinfo's latest snapshot: evacuations, blocks, room left",
    tags: ['sharks'],
    response: { 200: Fleet, ...errors },
  },
  listJobEvents: {
    method: 'GET',
    url: '/jobs/:uuid/events',
    operationId: 'list_job_events',
    summary: "A job's events, oldest first, after a sequence number",
    tags,
    params: JobParams,
    querystring: JobEventsQuery,
    response: { 200: JobEventList, ...errors },
  },
  getJobHistory: {
    method: 'GET',
    url: '/jobs/:uuid/history',
    operationId: 'get_job_history',
    summary: "A job's progress over its whole life, downsampled to at most ?points",
    tags,
    params: JobParams,
    querystring: JobHistoryQuery,
    response: { 200: JobHistory, ...errors },
  },
  getJobActivity: {
    method: 'GET',
    url: '/jobs/:uuid/activity',
    operationId: 'get_job_activity',
    summary: "What a job's agents hold and finish now, and the metadata shards' budgets",
    tags,
    params: JobParams,
    response: { 200: JobActivity, ...errors },
  },
  listJobObjects: {
    method: 'GET',
    url: '/jobs/:uuid/objects',
    operationId: 'list_job_objects',
    summary: "A job's objects by id, filtered by status, reason and key prefix",
    tags,
    params: JobParams,
    querystring: JobObjectsQuery,
    response: { 200: JobObjectList, ...errors },
  },
  deleteJob: {
    method: 'DELETE',
    url: '/jobs/:uuid',
    operationId: 'delete_job',
    summary: 'Delete a finished job and all its rows (409 while it is not finished)',
    tags,
    params: JobParams,
    response: { 200: JobDeleted, ...errors },
  },
  /** Prometheus text (manager.md §8); untagged, so not in the OpenAPI document. */
  metrics: {
    method: 'GET',
    url: '/metrics',
    operationId: 'get_metrics',
    summary: 'Prometheus metrics',
    response: { 200: Type.String({ description: 'Prometheus text exposition format' }) },
    successEncoding: 'text',
  },
} as const satisfies Record<string, RouteDecl>;
