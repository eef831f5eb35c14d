/**
 * Every route of the manager's HTTP API (manager.md §2), declared once: the manager's server
 * registers them from here and rebalancer-adm checks every answer against them. Error
 * answers are `{code, message}` with the statuses below (§13.10); L answered errors with plain
 * text, so clients decide on the status and read `message` only from a body that matches.
 */
import { Type } from 'typebox';
import type { RouteDecl } from './http-routes.ts';
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

const errors = {
  400: ManagerError,
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
  updateJob: {
    method: 'PUT',
    url: '/jobs/:uuid',
    operationId: 'update_job',
    summary: 'Tune a running job',
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
