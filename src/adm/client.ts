/** HTTP client of the manager API for rebalancer-adm. */
import type { JobListEntry, JobStatus } from '../api/manager.ts';

/** The manager answered with an error status, or could not be reached. */
export class AdmRequestError extends Error {
  override readonly name = 'AdmRequestError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
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
  ): Promise<{ text: string; server: string }> {
    const url = `${this.baseUrl.replace(/\/+$/, '')}${path}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        signal: AbortSignal.timeout(this.timeoutMs),
        ...(body === undefined
          ? {}
          : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      });
    } catch (err) {
      const cause =
        err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
      throw new AdmRequestError(
        `Request failed: ${method} ${url}: ${(err as Error).message}${cause}`,
      );
    }
    const text = await res.text();
    if (!res.ok) {
      let message = text;
      try {
        const parsed = JSON.parse(text) as { message?: unknown };
        if (typeof parsed.message === 'string') message = parsed.message;
      } catch {
        // not a JSON error body (e.g. a legacy manager's plain text): show it as is
      }
      throw new AdmRequestError(`Server response: ${res.status}: ${message}`, res.status);
    }
    return { text, server: res.headers.get('server') ?? 'unknown' };
  }

  async list(): Promise<JobListEntry[]> {
    return JSON.parse((await this.call('GET', '/jobs')).text) as JobListEntry[];
  }

  async get(id: string): Promise<JobStatus> {
    return JSON.parse((await this.call('GET', `/jobs/${id}`)).text) as JobStatus;
  }

  async createEvacuate(shark: string, maxObjects: number | undefined): Promise<string> {
    const params =
      maxObjects === undefined
        ? { from_shark: shark }
        : { from_shark: shark, max_objects: maxObjects };
    return (await this.call('POST', '/jobs', { action: 'evacuate', params })).text.trim();
  }

  async retry(id: string): Promise<string> {
    return (await this.call('POST', `/jobs/${id}/retry`)).text.trim();
  }

  async cancel(id: string): Promise<JobStatus> {
    return JSON.parse((await this.call('POST', `/jobs/${id}/cancel`)).text) as JobStatus;
  }

  async setMetadataThreads(id: string, n: number): Promise<void> {
    await this.call('PUT', `/jobs/${id}`, { action: 'set_metadata_threads', params: n });
  }
}
