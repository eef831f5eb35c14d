/**
 * HTTP client of the manager API for rebalancer-adm. Every failure — no connection, a
 * connection dropped before the whole answer arrived, an error status, an answer that does not
 * match the route's schema in src/api — is an AdmRequestError.
 */
import type { Static, TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import {
  type DuplicateEntry,
  DuplicateList,
  JobId,
  JobList,
  type JobListEntry,
  JobStatus,
  ManagerError,
} from '../api/manager.ts';

export type AdmFailure = 'transport' | 'status' | 'body';

/** The manager answered with an error status, or could not be reached, or answered nonsense. */
export class AdmRequestError extends Error {
  override readonly name = 'AdmRequestError';
  constructor(
    message: string,
    readonly status?: number,
    readonly code: AdmFailure = status === undefined ? 'transport' : 'status',
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const checkJobList = Compile(JobList);
const checkJobStatus = Compile(JobStatus);
const checkJobId = Compile(JobId);
const checkDuplicateList = Compile(DuplicateList);
const checkManagerError = Compile(ManagerError);

function reason(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return `${err.message}${err.cause instanceof Error ? `: ${err.cause.message}` : ''}`;
}

export class ManagerClient {
  constructor(
    private readonly baseUrl: string,
    private readonly timeoutMs = 60_000,
  ) {}

  private async call(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ text: string; server: string; url: string }> {
    const url = `${this.baseUrl.replace(/\/+$/, '')}${path}`;
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, {
        method,
        signal: AbortSignal.timeout(this.timeoutMs),
        ...(body === undefined
          ? {}
          : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      });
      // Inside the try: a connection dropped while the body is in flight is a transport failure.
      text = await res.text();
    } catch (err) {
      throw new AdmRequestError(
        `Request failed: ${method} ${url}: ${reason(err)}`,
        undefined,
        'transport',
        {
          cause: err,
        },
      );
    }
    if (!res.ok) {
      let message = text;
      try {
        const parsed: unknown = JSON.parse(text);
        if (checkManagerError.Check(parsed)) message = parsed.message;
      } catch {
        // not a JSON error body (e.g. a legacy manager's plain text): show it as is
      }
      throw new AdmRequestError(`Server response: ${res.status}: ${message}`, res.status);
    }
    return { text, server: res.headers.get('server') ?? 'unknown', url };
  }

  /** Parses and validates a 2xx JSON answer against the route's response schema. */
  private async json<S extends TSchema>(
    check: { Check(value: unknown): value is Static<S> },
    what: string,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<Static<S>> {
    const { text, url } = await this.call(method, path, body);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new AdmRequestError(
        `Server response to ${method} ${url} is not JSON: ${text.slice(0, 200)}`,
        200,
        'body',
        { cause: err },
      );
    }
    if (!check.Check(parsed)) {
      throw new AdmRequestError(
        `Server response to ${method} ${url} is not ${what}: ${text.slice(0, 200)}`,
        200,
        'body',
      );
    }
    return parsed;
  }

  /** A create/retry answer: the bare job UUID and a newline (L's form). */
  private async jobId(method: string, path: string, body?: unknown): Promise<string> {
    const { text, url } = await this.call(method, path, body);
    const id = text.trim();
    if (!checkJobId.Check(id)) {
      throw new AdmRequestError(
        `Server response to ${method} ${url} is not a job id: ${text.slice(0, 200)}`,
        200,
        'body',
      );
    }
    return id;
  }

  async list(): Promise<JobListEntry[]> {
    return this.json<typeof JobList>(checkJobList, 'a job list', 'GET', '/jobs');
  }

  async get(id: string): Promise<JobStatus> {
    return this.json<typeof JobStatus>(checkJobStatus, 'a job status', 'GET', `/jobs/${id}`);
  }

  async createEvacuate(shark: string, maxObjects: number | undefined): Promise<string> {
    const params =
      maxObjects === undefined
        ? { from_shark: shark }
        : { from_shark: shark, max_objects: maxObjects };
    return this.jobId('POST', '/jobs', { action: 'evacuate', params });
  }

  async retry(id: string): Promise<string> {
    return this.jobId('POST', `/jobs/${id}/retry`);
  }

  async cancel(id: string): Promise<JobStatus> {
    return this.json<typeof JobStatus>(
      checkJobStatus,
      'a job status',
      'POST',
      `/jobs/${id}/cancel`,
    );
  }

  /** Every duplicate of the job, page by page. */
  async duplicates(id: string): Promise<DuplicateEntry[]> {
    const all: DuplicateEntry[] = [];
    let after: string | undefined;
    do {
      const query = after === undefined ? '' : `?after=${encodeURIComponent(after)}`;
      const page = await this.json<typeof DuplicateList>(
        checkDuplicateList,
        'a duplicate list',
        'GET',
        `/jobs/${id}/duplicates${query}`,
      );
      all.push(...page.duplicates);
      after = page.next;
    } while (after !== undefined);
    return all;
  }

  async setMetadataThreads(id: string, n: number): Promise<void> {
    await this.call('PUT', `/jobs/${id}`, { action: 'set_metadata_threads', params: n });
  }
}
