/**
 * HTTP client for storinfo (peers.md §1.4, §1.6): lists every storage node by paging through
 * `GET /storagenodes?limit=N&after_id=<cursor>` and asks for a cache refresh with `POST /flush`.
 *
 * Differences from L, on purpose: the base URL is configurable; the server's `Link: rel="next"`
 * cursor is followed when present; a cursor that vanished between pages (404) restarts the
 * listing instead of failing; a cursor that does not advance is an error instead of a loop; a
 * failure is a typed error naming the request and the cause — never an empty list.
 */
import { Agent, request } from 'undici';
import { RebalancerError } from '../errors.ts';
import { InvalidStorinfoNodeError, parseStorinfoNode, type StorinfoNode } from './node.ts';

export interface StorinfoClientOptions {
  /** e.g. `http://storinfo.east.joyent.us` (L hard-codes that form) or `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** Records per page; L uses 100 (storinfo accepts 1..500). */
  pageSize?: number;
  /** Per-request timeout for headers and for body inactivity. Default 10 s. */
  timeoutMs?: number;
  /** Largest accepted response body. Default 16 MiB. */
  maxBodyBytes?: number;
  /** Full-listing restarts allowed when a paging cursor disappears mid-listing. Default 2. */
  cursorRestarts?: number;
  /** Safety bound on pages per listing. Default 10,000. */
  maxPages?: number;
}

export type StorinfoFailure = 'transport' | 'status' | 'body' | 'record' | 'paging';

/** A storinfo request that failed; `kind` says how, `url` which request. */
export class StorinfoRequestError extends RebalancerError {
  override readonly name = 'StorinfoRequestError';
  readonly code: string = 'storinfo_request_failed';
  constructor(
    readonly kind: StorinfoFailure,
    readonly method: string,
    readonly url: string,
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(`storinfo ${method} ${url}: ${message}`, options);
  }
}

interface Page {
  readonly nodes: StorinfoNode[];
  /** The `after_id` of the server's `Link: rel="next"`, if it sent one. */
  readonly linkAfterId: string | undefined;
}

/** Raised internally when a non-first page answers 404: the cursor record went away. */
class CursorLostError extends StorinfoRequestError {
  override readonly code = 'storinfo_cursor_lost';
}

export class StorinfoClient {
  readonly baseUrl: string;
  readonly pageSize: number;
  private readonly timeoutMs: number;
  private readonly maxBodyBytes: number;
  private readonly cursorRestarts: number;
  private readonly maxPages: number;
  private readonly agent: Agent;

  constructor(options: StorinfoClientOptions) {
    const url = new URL(options.baseUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new TypeError(`storinfo base URL must be http(s): ${options.baseUrl}`);
    }
    this.baseUrl = url.origin + url.pathname.replace(/\/+$/, '');
    this.pageSize = options.pageSize ?? 100;
    if (!Number.isInteger(this.pageSize) || this.pageSize < 1 || this.pageSize > 500) {
      throw new RangeError(`storinfo pageSize must be an integer in 1..500: ${this.pageSize}`);
    }
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.maxBodyBytes = options.maxBodyBytes ?? 16 * 1024 * 1024;
    this.cursorRestarts = options.cursorRestarts ?? 2;
    this.maxPages = options.maxPages ?? 10_000;
    this.agent = new Agent({
      keepAliveTimeout: 30_000,
      connections: 4,
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
    });
  }

  /** Every storage node storinfo lists, in its order, each exactly once; throws on any failure. */
  async listStorageNodes(signal?: AbortSignal): Promise<StorinfoNode[]> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.listOnce(signal);
      } catch (err) {
        if (!(err instanceof CursorLostError) || attempt >= this.cursorRestarts) throw err;
      }
    }
  }

  /** `POST /flush`: storinfo re-reads Moray so the next listing is fresh. */
  async flush(signal?: AbortSignal): Promise<void> {
    const url = `${this.baseUrl}/flush`;
    const { statusCode, body } = await this.send('POST', url, signal);
    await this.readBody('POST', url, body);
    if (statusCode < 200 || statusCode >= 300) {
      throw new StorinfoRequestError('status', 'POST', url, `HTTP ${statusCode}`, statusCode);
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private async listOnce(signal: AbortSignal | undefined): Promise<StorinfoNode[]> {
    const byId = new Map<string, StorinfoNode>();
    let cursor = '';
    for (let pages = 0; ; pages++) {
      if (pages >= this.maxPages) {
        throw new StorinfoRequestError(
          'paging',
          'GET',
          this.pageUrl(cursor),
          `more than ${this.maxPages} pages`,
        );
      }
      const page = await this.fetchPage(cursor, pages > 0, signal);
      for (const node of page.nodes) byId.set(node.manta_storage_id, node);
      const last = page.nodes.at(-1);
      let next: string | undefined;
      if (page.linkAfterId !== undefined) next = page.linkAfterId;
      else if (last !== undefined && page.nodes.length >= this.pageSize) {
        next = last.manta_storage_id;
      }
      if (next === undefined || page.nodes.length === 0) return [...byId.values()];
      if (next === cursor) {
        throw new StorinfoRequestError(
          'paging',
          'GET',
          this.pageUrl(cursor),
          `paging cursor did not advance past ${JSON.stringify(cursor)}`,
        );
      }
      cursor = next;
    }
  }

  private pageUrl(afterId: string): string {
    const q = new URLSearchParams({ limit: String(this.pageSize), after_id: afterId });
    return `${this.baseUrl}/storagenodes?${q.toString()}`;
  }

  private async fetchPage(
    afterId: string,
    continuation: boolean,
    signal: AbortSignal | undefined,
  ): Promise<Page> {
    const url = this.pageUrl(afterId);
    const { statusCode, headers, body } = await this.send('GET', url, signal);
    const text = await this.readBody('GET', url, body);
    if (statusCode === 404 && continuation) {
      throw new CursorLostError('paging', 'GET', url, 'paging cursor vanished (HTTP 404)', 404);
    }
    if (statusCode !== 200) {
      throw new StorinfoRequestError(
        'status',
        'GET',
        url,
        `HTTP ${statusCode}: ${text.slice(0, 200)}`,
        statusCode,
      );
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new StorinfoRequestError('body', 'GET', url, 'response is not JSON', statusCode, {
        cause: err,
      });
    }
    if (!Array.isArray(parsed)) {
      throw new StorinfoRequestError('body', 'GET', url, 'response is not a JSON array', 200);
    }
    const nodes: StorinfoNode[] = [];
    for (let i = 0; i < parsed.length; i++) {
      try {
        nodes.push(parseStorinfoNode(parsed[i], i));
      } catch (err) {
        if (!(err instanceof InvalidStorinfoNodeError)) throw err;
        throw new StorinfoRequestError('record', 'GET', url, err.message, 200, { cause: err });
      }
    }
    return { nodes, linkAfterId: nextAfterId(headers.link, url) };
  }

  private async send(
    method: 'GET' | 'POST',
    url: string,
    signal: AbortSignal | undefined,
  ): Promise<Awaited<ReturnType<typeof request>>> {
    try {
      return await request(url, {
        method,
        dispatcher: this.agent,
        headers: { accept: 'application/json' },
        signal,
      });
    } catch (err) {
      throw new StorinfoRequestError('transport', method, url, describe(err), undefined, {
        cause: err,
      });
    }
  }

  private async readBody(
    method: string,
    url: string,
    body: AsyncIterable<Buffer> & { destroy(err?: Error): unknown },
  ): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of body) {
        size += chunk.length;
        if (size > this.maxBodyBytes) {
          body.destroy();
          throw new StorinfoRequestError(
            'body',
            method,
            url,
            `response larger than ${this.maxBodyBytes} bytes`,
          );
        }
        chunks.push(chunk);
      }
    } catch (err) {
      if (err instanceof StorinfoRequestError) throw err;
      throw new StorinfoRequestError('transport', method, url, describe(err), undefined, {
        cause: err,
      });
    }
    return Buffer.concat(chunks).toString('utf8');
  }
}

/** The `after_id` of a `Link: <…>; rel="next"` header, or undefined. */
export function nextAfterId(
  link: string | string[] | undefined,
  requestUrl: string,
): string | undefined {
  if (link === undefined) return undefined;
  for (const part of (Array.isArray(link) ? link.join(',') : link).split(',')) {
    const m = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (!m || !/\brel\s*=\s*"?next"?/i.test(m[2] ?? '')) continue;
    try {
      const afterId = new URL(m[1] ?? '', requestUrl).searchParams.get('after_id');
      if (afterId !== null) return afterId;
    } catch {
      // An unparsable Link is ignored: paging then falls back to the last record's id.
    }
  }
  return undefined;
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
