/**
 * The console's client of the manager's public HTTP API: the same routes rebalancer-adm calls,
 * every answer checked against its declared schema (src/api), so a manager of another version
 * shows up as a clear error, not as a page that silently renders nonsense. The API token, when
 * one is saved, lives in sessionStorage: gone with the tab, never written to disk.
 */
import type { TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import type { AuditParams } from '../api/audit.ts';
import { RouteContract, type RouteDecl, routePath } from '../api/http-routes.ts';
import type { LimitChanges } from '../api/limits.ts';
import { type EvacuateParams, ManagerError } from '../api/manager.ts';
import { managerRoutes } from '../api/manager-routes.ts';
import { RebalancerError } from '../errors.ts';

/** A refusal or failure, as the banner shows it: `answer: message`. */
export class ApiError extends RebalancerError {
  override readonly name = 'ApiError';
  readonly code = 'console_request_failed';
  constructor(
    /** The manager's error code (`Unauthorized`, …), or what went wrong before an answer. */
    readonly answer: string,
    message: string,
  ) {
    super(message);
  }
}

const TOKEN_KEY = 'rebalancer-api-token';

export function savedToken(): string {
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

export function saveToken(token: string): void {
  if (token === '') sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

const routes = {
  createJob: new RouteContract(managerRoutes.createJob),
  listJobs: new RouteContract(managerRoutes.listJobs),
  getJob: new RouteContract(managerRoutes.getJob),
  getJobPlan: new RouteContract(managerRoutes.getJobPlan),
  updateJob: new RouteContract(managerRoutes.updateJob),
  retryJob: new RouteContract(managerRoutes.retryJob),
  cancelJob: new RouteContract(managerRoutes.cancelJob),
  pauseJob: new RouteContract(managerRoutes.pauseJob),
  resumeJob: new RouteContract(managerRoutes.resumeJob),
  listSharks: new RouteContract(managerRoutes.listSharks),
  listJobEvents: new RouteContract(managerRoutes.listJobEvents),
  getJobHistory: new RouteContract(managerRoutes.getJobHistory),
  getJobActivity: new RouteContract(managerRoutes.getJobActivity),
};

// Any error status may carry `{code, message}`, also those a route does not declare (401).
const isManagerError = Compile(ManagerError);

interface Request {
  params?: Record<string, string>;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  signal?: AbortSignal;
}

function queryString(query: Request['query'] = {}): string {
  const pairs = Object.entries(query).filter(([, v]) => v !== undefined);
  return pairs.length === 0 ? '' : `?${new URLSearchParams(pairs.map(([k, v]) => [k, String(v)]))}`;
}

async function call<R extends RouteDecl & { response: { 200: TSchema } }>(
  route: RouteContract<R>,
  request: Request = {},
) {
  const { method, operationId } = route.route;
  const path = `${routePath(route.route, request.params)}${queryString(request.query)}`;
  const token = savedToken();
  const headers: Record<string, string> = {};
  if (token !== '') headers.authorization = `Bearer ${token}`;
  if (request.body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  let text: string;
  try {
    res = await fetch(path, {
      method,
      headers,
      signal: request.signal ?? null,
      ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
    });
    text = await res.text();
  } catch (err) {
    if (request.signal?.aborted) throw err;
    throw new ApiError('NetworkError', `${method} ${path}: ${(err as Error).message}`);
  }
  if (!res.ok) {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (isManagerError.Check(body)) throw new ApiError(body.code, body.message);
    throw new ApiError(`HTTP ${res.status}`, text.trim() || res.statusText);
  }
  const answer = route.checkSuccess(res.status, text);
  if (!answer.ok) {
    const { path: where, message } = answer.mismatch;
    throw new ApiError('BadAnswer', `${operationId}: ${where ? `${where}: ` : ''}${message}`);
  }
  return answer.value;
}

const job = (uuid: string) => ({ uuid });

export const api = {
  sharks: (signal?: AbortSignal) => call(routes.listSharks, { signal }),
  jobs: (signal?: AbortSignal) => call(routes.listJobs, { signal }),
  job: (uuid: string, signal?: AbortSignal) => call(routes.getJob, { params: job(uuid), signal }),
  plan: (uuid: string, signal?: AbortSignal) =>
    call(routes.getJobPlan, { params: job(uuid), signal }),
  events: (uuid: string, after: number, signal?: AbortSignal) =>
    call(routes.listJobEvents, { params: job(uuid), query: { after, limit: 500 }, signal }),
  history: (uuid: string, signal?: AbortSignal) =>
    call(routes.getJobHistory, { params: job(uuid), query: { points: 300 }, signal }),
  activity: (uuid: string, signal?: AbortSignal) =>
    call(routes.getJobActivity, { params: job(uuid), signal }),

  /** Creates the job; resolves with its UUID. */
  evacuate: async (params: EvacuateParams) =>
    (await call(routes.createJob, { body: { action: 'evacuate', params } })).trim(),
  audit: async (params: AuditParams) =>
    (await call(routes.createJob, { body: { action: 'audit', params } })).trim(),
  setLimits: (uuid: string, params: LimitChanges) =>
    call(routes.updateJob, { params: job(uuid), body: { action: 'set_limits', params } }),
  pause: (uuid: string) => call(routes.pauseJob, { params: job(uuid) }),
  resume: (uuid: string) => call(routes.resumeJob, { params: job(uuid) }),
  cancel: (uuid: string) => call(routes.cancelJob, { params: job(uuid) }),
  /** A new job over the skipped and failed objects; resolves with its UUID. */
  retry: async (uuid: string) => (await call(routes.retryJob, { params: job(uuid) })).trim(),
};
