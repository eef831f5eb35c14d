/**
 * HTTP GET for downloads from source sharks: at most `connectionsPerHost` connections to each
 * source, kept alive where the source allows (a real mako closes every one), with reads into
 * pooled buffers. Not node:http: it gives every read a fresh buffer (see read-buffers.ts).
 * Not undici: undici 7 (the last line that runs on Node 20) crashes the process with an
 * uncatchable assertion when a server closes the connection while a response body is paused
 * under backpressure (nodejs/undici#5360), exactly what a mako does.
 */
import { type ConnectionEvents, type HttpGetOptions, SourceConnection } from './connection.ts';
import { HttpGetError } from './errors.ts';
import type { SourceResponse } from './exchange.ts';
import { ReadBufferPool } from './read-buffers.ts';

export interface SourceClientOptions {
  /** Connections per source, busy or idle. */
  readonly connectionsPerHost: number;
  /** An idle kept-alive connection is closed after this long; default 30 s. */
  readonly keepAliveMs?: number;
  /** Free read buffers kept for reuse (64 KiB each); default 256. */
  readonly pooledBuffers?: number;
}

interface Waiter {
  readonly grant: (connection: SourceConnection | undefined) => void;
}

/** One source's connections and the GETs waiting for one. */
interface Host {
  readonly host: string;
  readonly port: number;
  open: number;
  readonly idle: Map<SourceConnection, NodeJS.Timeout>;
  readonly waiting: Waiter[];
}

export class SourceClient {
  private readonly pool: ReadBufferPool;
  private readonly hosts = new Map<string, Host>();
  private readonly all = new Set<SourceConnection>();
  private readonly keepAliveMs: number;
  private closed = false;

  constructor(private readonly options: SourceClientOptions) {
    this.pool = new ReadBufferPool(options.pooledBuffers ?? 256);
    this.keepAliveMs = options.keepAliveMs ?? 30_000;
  }

  /**
   * Sends a GET and resolves once the response head arrived; read its body with `body()`,
   * which is still subject to the idle timeout. Rejects with HttpGetError.
   */
  async get(url: string, options: HttpGetOptions): Promise<SourceResponse> {
    const target = parseTarget(url);
    const key = `${target.host}:${target.port}`;
    let host = this.hosts.get(key);
    if (host === undefined) {
      host = { host: target.host, port: target.port, open: 0, idle: new Map(), waiting: [] };
      this.hosts.set(key, host);
    }
    for (let attempt = 0; ; attempt++) {
      if (options.signal.aborted) throw new HttpGetError(`GET ${url} aborted`, 'aborted');
      const connection = await this.acquire(host, url, options.signal);
      const reused = connection.served > 0;
      try {
        return await connection.request(url, target.path, target.hostHeader, options);
      } catch (err) {
        // A kept-alive connection the source closed meanwhile: GET is idempotent, so once
        // more on a new one (as any client does), when nothing of a response had come.
        const stale = err instanceof HttpGetError && err.code === 'connection_failed';
        if (reused && stale && attempt === 0) continue;
        throw err;
      }
    }
  }

  private acquire(host: Host, url: string, signal: AbortSignal): Promise<SourceConnection> {
    for (const [connection, timer] of host.idle) {
      host.idle.delete(connection);
      clearTimeout(timer);
      if (!connection.closed) return Promise.resolve(connection);
    }
    if (this.closed) {
      return Promise.reject(new HttpGetError(`GET ${url}: the client is closed`, 'aborted'));
    }
    if (host.open < this.options.connectionsPerHost) return Promise.resolve(this.open(host));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        grant: (connection) => {
          signal.removeEventListener('abort', onAbort);
          if (connection === undefined) {
            reject(new HttpGetError(`GET ${url}: the client is closed`, 'aborted'));
          } else resolve(connection);
        },
      };
      const onAbort = (): void => {
        const at = host.waiting.indexOf(waiter);
        if (at !== -1) host.waiting.splice(at, 1);
        reject(new HttpGetError(`GET ${url} aborted`, 'aborted'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      host.waiting.push(waiter);
    });
  }

  private open(host: Host): SourceConnection {
    host.open++;
    const events: ConnectionEvents = {
      idle: (connection) => this.onIdle(host, connection),
      closed: (connection) => this.onClosed(host, connection),
    };
    const connection = new SourceConnection(host.host, host.port, this.pool, events);
    this.all.add(connection);
    return connection;
  }

  private onIdle(host: Host, connection: SourceConnection): void {
    const waiter = host.waiting.shift();
    if (waiter !== undefined) {
      waiter.grant(connection);
      return;
    }
    const timer = setTimeout(() => connection.destroy(), this.keepAliveMs);
    timer.unref();
    host.idle.set(connection, timer);
  }

  private onClosed(host: Host, connection: SourceConnection): void {
    this.all.delete(connection);
    clearTimeout(host.idle.get(connection));
    host.idle.delete(connection);
    host.open--;
    const waiter = host.waiting.shift();
    if (waiter !== undefined) waiter.grant(this.closed ? undefined : this.open(host));
  }

  /** Ends every connection; GETs still waiting for one fail. */
  close(): void {
    this.closed = true;
    for (const host of this.hosts.values()) {
      for (const waiter of host.waiting.splice(0)) waiter.grant(undefined);
    }
    for (const connection of this.all) connection.destroy();
  }
}

interface Target {
  readonly host: string;
  readonly port: number;
  readonly path: string;
  readonly hostHeader: string;
}

function parseTarget(url: string): Target {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (err) {
    throw new HttpGetError(`GET ${url}: not a URL`, 'connection_failed', { cause: err });
  }
  if (parsed.protocol !== 'http:' || parsed.username !== '' || parsed.password !== '') {
    throw new HttpGetError(`GET ${url}: only plain http:// URLs are fetched`, 'connection_failed');
  }
  return {
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: parsed.port === '' ? 80 : Number(parsed.port),
    path: `${parsed.pathname}${parsed.search}`,
    hostHeader: parsed.host,
  };
}
