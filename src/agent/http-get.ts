/**
 * HTTP GET for downloads from storage nodes, on node:http. Not undici: undici 7 (the last line
 * that runs on Node 20) crashes the process with an uncatchable assertion when a server closes
 * the connection while a response body is paused under backpressure (nodejs/undici#5360, fixed
 * only in undici 8) — exactly what a mako does, since it closes every connection.
 */
import { Agent, type IncomingMessage, request } from 'node:http';

export interface HttpGetOptions {
  signal: AbortSignal;
  /** Longest wait for the connection to be established. */
  connectTimeoutMs: number;
  /** Longest silence while waiting for the headers or the next body chunk (not a total cap). */
  idleTimeoutMs: number;
}

export class HttpGetError extends Error {
  override readonly name = 'HttpGetError';
  constructor(
    message: string,
    readonly code: 'connect_timeout' | 'idle_timeout' | 'aborted',
  ) {
    super(message);
  }
}

/** A keep-alive pool; connections per source storage node are bounded by `maxSockets`. */
export function createDownloadAgent(maxSocketsPerHost: number): Agent {
  return new Agent({ keepAlive: true, maxSockets: maxSocketsPerHost, keepAliveMsecs: 30_000 });
}

/**
 * Sends the GET and resolves with the response once its headers arrived; the body is the
 * returned message (a Readable), still subject to the idle timeout.
 */
export function httpGet(
  url: string,
  agent: Agent,
  options: HttpGetOptions,
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    if (options.signal.aborted) {
      reject(new HttpGetError(`GET ${url} aborted`, 'aborted'));
      return;
    }
    const req = request(url, { method: 'GET', agent });
    let connectTimer: NodeJS.Timeout | undefined;
    const onAbort = () => req.destroy(new HttpGetError(`GET ${url} aborted`, 'aborted'));
    options.signal.addEventListener('abort', onAbort, { once: true });
    const cleanup = () => {
      clearTimeout(connectTimer);
      options.signal.removeEventListener('abort', onAbort);
    };
    req.setTimeout(options.idleTimeoutMs, () => {
      req.destroy(
        new HttpGetError(
          `GET ${url}: nothing received for ${options.idleTimeoutMs} ms`,
          'idle_timeout',
        ),
      );
    });
    req.once('socket', (socket) => {
      if (!socket.connecting) return;
      connectTimer = setTimeout(() => {
        req.destroy(
          new HttpGetError(
            `GET ${url}: not connected after ${options.connectTimeoutMs} ms`,
            'connect_timeout',
          ),
        );
      }, options.connectTimeoutMs);
      socket.once('connect', () => clearTimeout(connectTimer));
    });
    req.once('response', (res) => {
      clearTimeout(connectTimer);
      // The request's idle timer keeps guarding the body; stop watching the abort signal only
      // once the body is done (a destroyed request also ends the response with an error).
      res.once('close', cleanup);
      resolve(res);
    });
    req.once('error', (err) => {
      cleanup();
      reject(err);
    });
    req.end();
  });
}

/** Reads and drops a (small) error body so the connection can be reused; destroys big ones. */
export async function discardBody(res: IncomingMessage, limit = 64 * 1024): Promise<void> {
  const length = Number(res.headers['content-length']);
  if (!Number.isFinite(length) || length > limit) {
    res.destroy();
    return;
  }
  for await (const _chunk of res) {
    // Only draining.
  }
}
