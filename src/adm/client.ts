/**
 * HTTP client of the manager API for rebalancer-adm, driven by the route table in
 * src/api/manager-routes.ts: paths come from it and every answer is checked against its
 * response schema for that route and status. Every failure — no connection, a connection
 * dropped before the whole answer arrived, an error status, an answer of the wrong shape — is
 * an AdmRequestError; the last is an AdmResponseError naming the route and the first mismatch.
 */

import type { TSchema } from 'typebox';
import { type Mismatch, RouteContract, type RouteDecl, routePath } from '../api/http-routes.ts';
import type { JobDeleted, JobObjectList } from '../api/job-objects.ts';
import type { JobLimits, LimitChanges } from '../api/limits.ts';
import type { DuplicateEntry, JobListEntry, JobStatus, SingleCopies } from '../api/manager.ts';
import { managerRoutes } from '../api/manager-routes.ts';
import type { JobPlan } from '../api/plan.ts';
import { RebalancerError } from '../errors.ts';

export type AdmFailure = 'transport' | 'status' | 'body';

/** The manager answered with an error status, or could not be reached, or answered nonsense. */
export class AdmRequestError extends RebalancerError {
  override readonly name: string = 'AdmRequestError';
  constructor(
    message: string,
    readonly status?: number,
    readonly code: AdmFailure = status === undefined ? 'transport' : 'status',
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A 2xx answer that does not match the route's declared schema (code `body`). */
export class AdmResponseError extends AdmRequestError {
  override readonly name = 'AdmResponseError';
  constructor(
    /** The route's operationId, e.g. `get_job`. */
    readonly route: string,
    readonly mismatch: Mismatch,
    status: number,
    message: string,
  ) {
    super(message, status, 'body');
  }
}

/** The program's global options, as the command modules read them. */
export interface AdmGlobals {
  url: () => string;
  json: () => boolean;
  /** The manager's api_token (--api-token, else REBALANCER_API_TOKEN). */
  token: () => string | undefined;
}

/** What a 401 means to the operator: the manager has an api_token and wants it. */
const UNAUTHORIZED_MESSAGE =
  'the manager refused the request (401 Unauthorized): give its api_token with --api-token or REBALANCER_API_TOKEN';

/** An error answer: a 401 says how to give the token, any other status the manager's message. */
export function statusError(status: number, message: string): AdmRequestError {
  return new AdmRequestError(
    status === 401 ? UNAUTHORIZED_MESSAGE : `Server response: ${status}: ${message}`,
    status,
  );
}

/** The headers that carry the manager's api_token (none without one). */
export function authHeaders(token: string | undefined): Record<string, string> {
  return token === undefined || token === '' ? {} : { authorization: `Bearer ${token}` };
}

const contract = {
  createJob: new RouteContract(managerRoutes.createJob),
  listJobs: new RouteContract(managerRoutes.listJobs),
  getJob: new RouteContract(managerRoutes.getJob),
  listJobDuplicates: new RouteContract(managerRoutes.listJobDuplicates),
  updateJob: new RouteContract(managerRoutes.updateJob),
  retryJob: new RouteContract(managerRoutes.retryJob),
  cancelJob: new RouteContract(managerRoutes.cancelJob),
  getJobPlan: new RouteContract(managerRoutes.getJobPlan),
  pauseJob: new RouteContract(managerRoutes.pauseJob),
  resumeJob: new RouteContract(managerRoutes.resumeJob),
  listJobObjects: new RouteContract(managerRoutes.listJobObjects),
  deleteJob: new RouteContract(managerRoutes.deleteJob),
};

/** What `job create evacuate` may set besides the shark. */
export interface EvacuateOptions {
  maxObjects?: number;
  dryRun?: boolean;
  /** Objects whose only copy is on the shark: copied from it (the manager's default) or skipped. */
  singleCopies?: SingleCopies;
  /** Convergence rounds after the main pass (the manager's default when absent). */
  convergeRounds?: number;
  limits?: Partial<JobLimits>;
}

function reason(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return `${err.message}${err.cause instanceof Error ? `: ${err.cause.message}` : ''}`;
}

interface Request {
  params?: Record<string, string>;
  query?: string;
  body?: unknown;
}

export class ManagerClient {
  constructor(
    private readonly baseUrl: string,
    private readonly timeoutMs = 60_000,
    /** The manager's api_token, sent on every request when given. */
    private readonly token?: string,
  ) {}

  /**
   * One request to a declared route; resolves with its 200 answer, checked against the
   * route's 200 schema. An error status is an AdmRequestError carrying the `message` of a
   * body that matches the declared error schema, else the body as is (L answered plain text).
   */
  private async call<R extends RouteDecl & { response: { 200: TSchema } }>(
    route: RouteContract<R>,
    request: Request = {},
  ) {
    const { method } = route.route;
    const url = `${this.baseUrl.replace(/\/+$/, '')}${routePath(route.route, request.params)}${request.query ?? ''}`;
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, {
        method,
        signal: AbortSignal.timeout(this.timeoutMs),
        headers: {
          ...authHeaders(this.token),
          ...(request.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
      });
      // Inside the try: a connection dropped while the body is in flight is a transport failure.
      text = await res.text();
    } catch (err) {
      throw new AdmRequestError(
        `Request failed: ${method} ${url}: ${reason(err)}`,
        undefined,
        'transport',
        { cause: err },
      );
    }
    if (!res.ok) {
      const answer = route.declares(res.status) ? route.check(res.status, text) : undefined;
      const body = answer?.ok ? (answer.value as { message?: unknown }) : undefined;
      const message = typeof body?.message === 'string' ? body.message : text;
      throw statusError(res.status, message);
    }
    const answer = route.checkSuccess(res.status, text);
    if (!answer.ok) {
      const { path, message } = answer.mismatch;
      throw new AdmResponseError(
        route.route.operationId,
        answer.mismatch,
        res.status,
        `Server response to ${route.name} at ${url} does not match its schema: ` +
          `${path === '' ? '' : `${path}: `}${message}: ${text.slice(0, 200)}`,
      );
    }
    return answer.value;
  }

  async list(): Promise<JobListEntry[]> {
    return this.call(contract.listJobs);
  }

  async get(id: string): Promise<JobStatus> {
    return this.call(contract.getJob, { params: { uuid: id } });
  }

  async createEvacuate(shark: string, options: EvacuateOptions = {}): Promise<string> {
    const params = {
      from_shark: shark,
      ...(options.maxObjects === undefined ? {} : { max_objects: options.maxObjects }),
      ...(options.dryRun ? { dry_run: true } : {}),
      ...(options.singleCopies === undefined ? {} : { single_copies: options.singleCopies }),
      ...(options.convergeRounds === undefined ? {} : { converge_rounds: options.convergeRounds }),
      ...options.limits,
    };
    const text = await this.call(contract.createJob, { body: { action: 'evacuate', params } });
    return text.trim();
  }

  async plan(id: string): Promise<JobPlan> {
    return this.call(contract.getJobPlan, { params: { uuid: id } });
  }

  async pause(id: string): Promise<JobStatus> {
    return this.call(contract.pauseJob, { params: { uuid: id } });
  }

  async resume(id: string): Promise<JobStatus> {
    return this.call(contract.resumeJob, { params: { uuid: id } });
  }

  async setLimits(id: string, changes: LimitChanges): Promise<void> {
    await this.call(contract.updateJob, {
      params: { uuid: id },
      body: { action: 'set_limits', params: changes },
    });
  }

  async retry(id: string): Promise<string> {
    return (await this.call(contract.retryJob, { params: { uuid: id } })).trim();
  }

  async cancel(id: string): Promise<JobStatus> {
    return this.call(contract.cancelJob, { params: { uuid: id } });
  }

  /** Every duplicate of the job, page by page. */
  async duplicates(id: string): Promise<DuplicateEntry[]> {
    const all: DuplicateEntry[] = [];
    let after: string | undefined;
    do {
      const query = after === undefined ? '' : `?after=${encodeURIComponent(after)}`;
      const page = await this.call(contract.listJobDuplicates, { params: { uuid: id }, query });
      all.push(...page.duplicates);
      after = page.next;
    } while (after !== undefined);
    return all;
  }

  /** One page of the job's objects; `query` holds the route's query parameters. */
  async objects(id: string, query: Readonly<Record<string, string>>): Promise<JobObjectList> {
    const search = new URLSearchParams(query).toString();
    return this.call(contract.listJobObjects, {
      params: { uuid: id },
      query: search === '' ? '' : `?${search}`,
    });
  }

  async deleteJob(id: string): Promise<JobDeleted> {
    return this.call(contract.deleteJob, { params: { uuid: id } });
  }

  async setMetadataThreads(id: string, n: number): Promise<void> {
    await this.call(contract.updateJob, {
      params: { uuid: id },
      body: { action: 'set_metadata_threads', params: n },
    });
  }
}
