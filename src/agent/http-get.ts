/**
 * HTTP GET for downloads from storage nodes, on node:http. Not undici: undici 7 (the last line
 * that runs on Node 20) crashes the process with an uncatchable assertion when a server closes
 * the connection while a response body is paused under backpressure (nodejs/undici#5360, fixed
 * only in undici 8) — exactly what a mako does, since it closes every connection.
 */
import { Agent, type IncomingMessage, request } from 'node:http';
import { RebalancerError } from '../errors.ts';

export interface HttpGetOptions {
  signal: AbortSignal;
  /** Longest wait for the connection to be established. */
  connectTimeoutMs: number;
  /** Longest silence while waiting for the headers or the next body chunk (not a total cap). */
  idleTimeoutMs: number;
}

export type HttpGetFailure =
  | 'connect_timeout'
  | 'idle_timeout'
  | 'aborted'
  /** Refused, reset, or closed before the headers arrived (the cause has the errno). */
  | 'connection_failed'
  /** The connection broke while the body was in flight: fewer bytes than announced. */
  | 'truncated';

/** Every failure of a GET, before or after its headers; the task treats it as a network error. */
export class HttpGetError extends RebalancerError {
  override readonly name = 'HttpGetError';
  constructor(
    message: string,
    readonly code: HttpGetFailure,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

interface Exchange {
  readonly url: string;
  /** Why we destroyed the request ourselves; node then ends the body with a bare `aborted`. */
  reason: HttpGetError | undefined;
}

const exchanges = new WeakMap<IncomingMessage, Exchange>();

/** A keep-alive pool; connections per source storage node are bounded by `maxSockets`. */
export function createDownloadAgent(maxSocketsPerHost: number): Agent {
  return new Agent({ keepAlive: true, maxSockets: maxSocketsPerHost, keepAliveMsecs: 30_000 });
}

/**
 * Sends the GET and resolves with the response once its headers arrived; read its body with
 * `responseBody`, which is still subject to the idle timeout. Rejects with HttpGetError.
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
    const exchange: Exchange = { url, reason: undefined };
    const fail = (err: HttpGetError): void => {
      exchange.reason ??= err;
      req.destroy(err);
    };
    let connectTimer: NodeJS.Timeout | undefined;
    const onAbort = () => fail(new HttpGetError(`GET ${url} aborted`, 'aborted'));
    options.signal.addEventListener('abort', onAbort, { once: true });
    const cleanup = () => {
      clearTimeout(connectTimer);
      options.signal.removeEventListener('abort', onAbort);
    };
    req.setTimeout(options.idleTimeoutMs, () => {
      fail(
        new HttpGetError(
          `GET ${url}: nothing received for ${options.idleTimeoutMs} ms`,
          'idle_timeout',
        ),
      );
    });
    req.once('socket', (socket) => {
      if (!socket.connecting) return;
      connectTimer = setTimeout(() => {
        fail(
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
      exchanges.set(res, exchange);
      resolve(res);
    });
    // `on`, not `once`: a second error must not be an uncaught one.
    req.on('error', (err) => {
      cleanup();
      reject(
        err instanceof HttpGetError
          ? err
          : new HttpGetError(`GET ${url}: ${describe(err)}`, 'connection_failed', { cause: err }),
      );
    });
    req.end();
  });
}

/**
 * The body of a response from `httpGet`, chunk by chunk. A body that ends before the bytes its
 * headers announced — the connection dropped, timed out or was aborted — throws HttpGetError,
 * never ends as if it were whole.
 */
export async function* responseBody(res: IncomingMessage): AsyncGenerator<Buffer, void, undefined> {
  const exchange = exchanges.get(res);
  const url = exchange?.url ?? 'response';
  let bytes = 0;
  const cut = (cause?: unknown): HttpGetError =>
    exchange?.reason ??
    new HttpGetError(
      `GET ${url}: connection lost after ${bytes} body bytes` +
        ` of ${res.headers['content-length'] ?? 'an unknown number'}` +
        (cause === undefined ? '' : `: ${describe(cause)}`),
      'truncated',
      { cause },
    );
  try {
    for await (const chunk of chunksOf(res)) {
      bytes += chunk.length;
      yield chunk;
    }
  } catch (err) {
    throw err instanceof HttpGetError ? err : cut(err);
  }
  if (!res.complete) throw cut();
}

/** Body bytes queued before the response is paused (backpressure to the socket). */
const QUEUE_HIGH = 64 * 1024;

/**
 * The response's chunks as they arrived, from 'data' events. Not the stream's own async
 * iterator: that one calls read(), which concatenates whatever is buffered into a new buffer
 * (a copy, and an external allocation: those are what start the agent's major GCs) whenever
 * the consumer was busy writing. Stopping early destroys the response, as that iterator does.
 */
async function* chunksOf(res: IncomingMessage): AsyncGenerator<Buffer, void, undefined> {
  const chunks: Buffer[] = [];
  let queued = 0;
  let ended = false;
  let failed: { err: unknown } | undefined;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const onData = (chunk: Buffer): void => {
    chunks.push(chunk);
    queued += chunk.length;
    if (queued >= QUEUE_HIGH) res.pause();
    notify();
  };
  const onEnd = (): void => {
    ended = true;
    notify();
  };
  const onError = (err: unknown): void => {
    failed ??= { err };
    notify();
  };
  const onClose = (): void => {
    if (!ended) failed ??= { err: new Error('response closed before its end') };
    notify();
  };
  res.on('data', onData);
  res.on('end', onEnd);
  res.on('error', onError);
  res.on('close', onClose);
  // Read only now (the caller opened its temp file first): a connection lost meanwhile has
  // already destroyed the response and emitted its events, and no more will come.
  if (res.destroyed && !res.readableEnded) {
    failed = { err: res.errored ?? new Error('response closed before its end') };
  }
  try {
    for (;;) {
      const chunk = chunks.shift();
      if (chunk !== undefined) {
        queued -= chunk.length;
        if (queued < QUEUE_HIGH && res.isPaused()) res.resume();
        yield chunk;
        continue;
      }
      if (failed !== undefined) throw failed.err;
      if (ended) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  } finally {
    res.off('data', onData);
    res.off('end', onEnd);
    res.off('close', onClose);
    // onError stays: an error emitted by this destroy (or later) must not be an uncaught one.
    if (!ended || failed !== undefined) res.destroy();
  }
}

/**
 * Runs `wait` (the agent's own bandwidth cap holding the body back) with the response's idle
 * timer off: while nothing is read the socket is silent, which is not the source's silence.
 * The timer is touched only while the response is incomplete, when the socket is still its.
 */
export async function withoutIdleTimeout(
  res: IncomingMessage,
  idleTimeoutMs: number,
  wait: () => Promise<void>,
): Promise<void> {
  const socket = res.socket;
  if (res.complete || socket === null) return wait();
  socket.setTimeout(0);
  try {
    await wait();
  } finally {
    if (!res.complete && !socket.destroyed) socket.setTimeout(idleTimeoutMs);
  }
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as NodeJS.ErrnoException).code;
  return code === undefined ? err.message : `${code}: ${err.message}`;
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
