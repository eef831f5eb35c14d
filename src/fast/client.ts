/**
 * Fast RPC client (spec/protocols.md §1.5–§1.9): one TCP connection, many requests in flight,
 * responses matched by msgid, results streamed as async iterables.
 *
 * Buffering is bounded: when a consumer falls `maxBufferedValues` behind, the socket is paused
 * until it catches up. Requests share the connection, so a slow consumer also delays the others
 * on it — the price of bounded memory on a multiplexed stream.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { backoff, sleep } from '../async/index.ts';
import { createLogger, type Logger } from '../log/index.ts';
import {
  DEFAULT_MAX_MESSAGE_SIZE,
  encodeFrame,
  FAST_HEADER_SIZE,
  FastDecoder,
  type FastMessage,
  FastStatus,
  type FastVersion,
  nowMicros,
} from './codec.ts';
import {
  FastConnectionError,
  FastProtocolError,
  FastServerError,
  FastTimeoutError,
} from './errors.ts';
import { MsgidAllocator } from './msgid.ts';
import { FrameWriter } from './writer.ts';

export interface FastClientOptions {
  host: string;
  port: number;
  /** Version (CRC algorithm) of the requests sent; default 2. */
  version?: FastVersion;
  /** Default 10 s. */
  connectTimeoutMs?: number;
  /**
   * Default: none. The longest silence while a request waits for its next message: a request
   * whose server never answers fails, a long stream that keeps coming never does.
   */
  requestTimeoutMs?: number;
  /** Largest frame payload sent or accepted; default 64 MiB. */
  maxMessageSize?: number;
  /** Backoff between connection attempts after a loss or a failure; false: never reconnect.
   * Default `{minDelayMs: 100, maxDelayMs: 10000}`. */
  reconnect?: false | { minDelayMs: number; maxDelayMs: number };
  /** First msgid handed out (for wraparound tests); default 1. */
  firstMsgid?: number;
  /** Values buffered for one request before the socket is paused; default 1000. */
  maxBufferedValues?: number;
  log?: Logger;
}

export interface FastRequestOptions {
  /** Overrides `requestTimeoutMs` (an inactivity timeout, see there). */
  timeoutMs?: number;
  /** Drop null values in results instead of failing the request (§1.5). */
  ignoreNullValues?: boolean;
  signal?: AbortSignal;
}

/** One request's state; stays in its connection's table until END/ERROR even if abandoned. */
interface Request {
  readonly msgid: number;
  readonly method: string;
  readonly ignoreNullValues: boolean;
  values: unknown[];
  head: number;
  /** END received (values may still be queued). */
  ended: boolean;
  /** Failure delivered to the consumer (server error, timeout, abort, connection loss). */
  error: Error | undefined;
  /** Failed or given up locally: later DATA is dropped, the msgid waits for END/ERROR. */
  abandoned: boolean;
  /** This request has the socket paused. */
  blocking: boolean;
  wake: (() => void) | undefined;
  cleanup: (() => void) | undefined;
}

export class FastClient {
  readonly address: string;
  private readonly opts: FastClientOptions;
  private readonly log: Logger;
  private readonly version: FastVersion;
  private readonly maxMessageSize: number;
  private readonly maxBuffered: number;
  private conn: ClientConnection | undefined;
  private connecting: Promise<ClientConnection> | undefined;
  private readonly msgids: MsgidAllocator;
  private failures = 0;
  private nextAttemptAt = 0;
  /** A connection existed once; with `reconnect: false` a lost one is not replaced. */
  private everConnected = false;
  private closed = false;
  /** Cuts the wait before a connection attempt short when the client closes. */
  private backoffWait: AbortController | undefined;

  constructor(opts: FastClientOptions) {
    this.opts = opts;
    this.address = `${opts.host}:${opts.port}`;
    this.log = (opts.log ?? createLogger({ name: 'fast-client' })).child({ fast: this.address });
    this.version = opts.version ?? 2;
    this.maxMessageSize = opts.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    this.maxBuffered = opts.maxBufferedValues ?? 1000;
    this.msgids = new MsgidAllocator(opts.firstMsgid ?? 1);
  }

  get connected(): boolean {
    return this.conn !== undefined && !this.conn.closed;
  }

  /** Requests awaiting their answer (abandoned ones excluded). */
  get pending(): number {
    return this.conn ? this.conn.requests.size - this.conn.abandoned : 0;
  }

  /** Msgids reserved by abandoned requests whose END/ERROR has not arrived yet. */
  get abandoned(): number {
    return this.conn?.abandoned ?? 0;
  }

  /**
   * Whether the connection shows it is alive without a ping: it received bytes within the last
   * `withinMs`, or its reading is paused because a consumer is slow (the server is not the one
   * that is late). A ping on such a connection may wait behind a long response.
   */
  recentlyActive(withinMs: number): boolean {
    const conn = this.conn;
    if (!conn || conn.closed) return false;
    return conn.paused || performance.now() - conn.lastReceivedAt < withinMs;
  }

  async connect(): Promise<void> {
    await this.connection();
  }

  /** Streams the values of every DATA frame (and any in END's d); throws typed errors. */
  request(method: string, args: unknown[], opts: FastRequestOptions = {}): AsyncIterable<unknown> {
    return this.stream(method, args, opts);
  }

  async call(method: string, args: unknown[], opts: FastRequestOptions = {}): Promise<unknown[]> {
    const out: unknown[] = [];
    for await (const value of this.stream(method, args, opts)) out.push(value);
    return out;
  }

  /** Fails every pending request with FastConnectionError and closes the connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.backoffWait?.abort(new FastConnectionError(this.address, 'client closed'));
    const conn = this.conn;
    this.conn = undefined;
    if (conn) await conn.destroy(new FastConnectionError(this.address, 'client closed'));
  }

  private async *stream(
    method: string,
    args: unknown[],
    opts: FastRequestOptions,
  ): AsyncGenerator<unknown, void, undefined> {
    opts.signal?.throwIfAborted();
    const conn = await this.connection();
    opts.signal?.throwIfAborted();
    const req = this.send(conn, method, args, opts);
    const timeoutMs = opts.timeoutMs ?? this.opts.requestTimeoutMs;
    try {
      for (;;) {
        if (req.head < req.values.length) {
          const value = req.values[req.head];
          req.values[req.head++] = undefined;
          if (req.head === req.values.length) {
            req.values = [];
            req.head = 0;
          }
          if (req.blocking && req.values.length - req.head <= this.maxBuffered >> 1) {
            conn.unblock(req);
          }
          yield value;
          continue;
        }
        if (req.error) throw req.error;
        if (req.ended) return;
        // The timeout counts only the time spent waiting for the server.
        const timer =
          timeoutMs === undefined
            ? undefined
            : setTimeout(
                () => conn.abandon(req, new FastTimeoutError(method, timeoutMs)),
                timeoutMs,
              );
        await new Promise<void>((resolve) => {
          req.wake = resolve;
        });
        clearTimeout(timer);
      }
    } finally {
      // The consumer stopped early (break/return/throw): keep the msgid until END arrives.
      if (!req.ended && !req.error) {
        conn.abandon(req, new Error(`fast request "${method}" abandoned by its consumer`));
      }
      req.cleanup?.();
    }
  }

  private send(
    conn: ClientConnection,
    method: string,
    args: unknown[],
    opts: FastRequestOptions,
  ): Request {
    const msgid = this.allocate(conn);
    const frame = encodeFrame({
      version: this.version,
      status: FastStatus.Data,
      msgid,
      data: { m: { uts: nowMicros(), name: method }, d: args },
    });
    if (frame.length - FAST_HEADER_SIZE > this.maxMessageSize) {
      throw new FastProtocolError(
        'message_too_large',
        `fast request "${method}" of ${frame.length - FAST_HEADER_SIZE} bytes exceeds the limit of ${this.maxMessageSize}`,
        { length: frame.length - FAST_HEADER_SIZE, maxMessageSize: this.maxMessageSize },
      );
    }
    const req: Request = {
      msgid,
      method,
      ignoreNullValues: opts.ignoreNullValues ?? false,
      values: [],
      head: 0,
      ended: false,
      error: undefined,
      abandoned: false,
      blocking: false,
      wake: undefined,
      cleanup: undefined,
    };
    conn.requests.set(msgid, req);
    const signal = opts.signal;
    const onAbort = (): void => conn.abandon(req, toError(signal?.reason));
    signal?.addEventListener('abort', onAbort, { once: true });
    req.cleanup = () => {
      signal?.removeEventListener('abort', onAbort);
    };
    conn.write(frame);
    return req;
  }

  /** Next free msgid in [1, 2^31-1], wrapping to 1, skipping ids still reserved (§1.7). */
  private allocate(conn: ClientConnection): number {
    const id = this.msgids.allocate((candidate) => conn.requests.has(candidate));
    if (id === undefined) {
      throw new FastConnectionError(this.address, 'no free msgid: every msgid is pending');
    }
    return id;
  }

  /** The live connection, connecting (after the backoff delay) when there is none. */
  private connection(): Promise<ClientConnection> {
    if (this.closed) {
      return Promise.reject(new FastConnectionError(this.address, 'client closed'));
    }
    if (this.conn && !this.conn.closed) return Promise.resolve(this.conn);
    if (this.everConnected && this.opts.reconnect === false) {
      return Promise.reject(
        new FastConnectionError(this.address, 'connection lost (reconnect disabled)'),
      );
    }
    this.connecting ??= this.attempt().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async attempt(): Promise<ClientConnection> {
    const wait = this.nextAttemptAt - Date.now();
    if (wait > 0) await this.waitBeforeAttempt(wait);
    if (this.closed) throw new FastConnectionError(this.address, 'client closed');
    try {
      const socket = await this.dial();
      if (this.closed) {
        socket.destroy();
        throw new FastConnectionError(this.address, 'client closed');
      }
      this.failures = 0;
      this.everConnected = true;
      const conn = new ClientConnection(
        this,
        socket,
        this.log,
        this.maxMessageSize,
        this.maxBuffered,
      );
      this.conn = conn;
      this.log.debug('fast connection established');
      return conn;
    } catch (err) {
      this.failures++;
      this.nextAttemptAt = Date.now() + this.backoff();
      throw err;
    }
  }

  /** Called by a connection when it closed. */
  lost(conn: ClientConnection): void {
    if (this.conn !== conn) return;
    this.conn = undefined;
    // The first attempt after a loss also waits a (jittered) minimum delay: a server that
    // accepts and drops connections must not be hammered.
    this.nextAttemptAt = Date.now() + this.backoff();
  }

  /** Exponential, jittered (50–100 %), bounded delay before the next connection attempt. */
  private backoff(): number {
    const policy = this.opts.reconnect || { minDelayMs: 100, maxDelayMs: 10_000 };
    const delay = backoff({ initialMs: policy.minDelayMs, maxMs: policy.maxDelayMs, jitter: 0.5 });
    return delay(this.failures + 1);
  }

  /** Waits `ms`, or until close(): the caller then finds the client closed. */
  private async waitBeforeAttempt(ms: number): Promise<void> {
    const wait = new AbortController();
    this.backoffWait = wait;
    try {
      await sleep(ms, wait.signal);
    } catch (err) {
      if (!wait.signal.aborted) throw err;
    } finally {
      this.backoffWait = undefined;
    }
  }

  private dial(): Promise<Socket> {
    const timeoutMs = this.opts.connectTimeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host: this.opts.host, port: this.opts.port, noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new FastConnectionError(this.address, `connect timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      const onError = (err: Error): void => {
        clearTimeout(timer);
        reject(
          new FastConnectionError(this.address, `connect failed: ${err.message}`, { cause: err }),
        );
      };
      socket.once('error', onError);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        socket.setKeepAlive(true, 10_000);
        resolve(socket);
      });
    });
  }
}

function toError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason ?? 'aborted'));
}

/** One TCP connection of a FastClient and the requests in flight on it. */
class ClientConnection {
  readonly requests = new Map<number, Request>();
  /** How many entries of `requests` are abandoned. */
  abandoned = 0;
  closed = false;
  private readonly decoder: FastDecoder;
  private readonly writer: FrameWriter;
  private blockers = 0;
  /** Reading is paused: a consumer has not taken its buffered values yet. */
  get paused(): boolean {
    return this.blockers > 0;
  }
  /** performance.now() of the last bytes received (or of the connection's start). */
  lastReceivedAt = performance.now();
  private readonly closedPromise: Promise<void>;

  constructor(
    private readonly client: FastClient,
    private readonly socket: Socket,
    private readonly log: Logger,
    maxMessageSize: number,
    private readonly maxBuffered: number,
  ) {
    this.decoder = new FastDecoder({ maxMessageSize });
    this.writer = new FrameWriter(socket);
    this.closedPromise = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => {
      this.fail(new FastConnectionError(client.address, 'connection closed by the server'));
    });
    socket.on('error', (err) => {
      this.fail(
        new FastConnectionError(client.address, `connection error: ${err.message}`, { cause: err }),
      );
    });
    socket.on('close', () => {
      this.fail(new FastConnectionError(client.address, 'connection lost'));
    });
  }

  write(frame: Buffer): void {
    this.writer.write(frame);
  }

  /** Fail every request, destroy the socket and wait until it is closed. */
  destroy(err: Error): Promise<void> {
    this.fail(err);
    return this.closedPromise;
  }

  /** Local abandonment (§1.8): fail the consumer now, keep the msgid until END/ERROR. */
  abandon(req: Request, err: Error): void {
    if (req.abandoned || req.ended) return;
    req.abandoned = true;
    this.abandoned++;
    req.error ??= err;
    req.values = [];
    req.head = 0;
    this.unblock(req);
    req.cleanup?.();
    this.wake(req);
  }

  unblock(req: Request): void {
    if (!req.blocking) return;
    req.blocking = false;
    if (--this.blockers === 0 && !this.closed) this.socket.resume();
  }

  private wake(req: Request): void {
    const wake = req.wake;
    req.wake = undefined;
    wake?.();
  }

  private fail(err: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    if (this.requests.size > 0) {
      this.log.warn({ err, pending: this.requests.size }, 'fast connection failed');
    }
    for (const req of this.requests.values()) {
      req.ended = true;
      if (!req.abandoned) req.error = err;
      req.cleanup?.();
      this.wake(req);
    }
    this.requests.clear();
    this.abandoned = 0;
    this.client.lost(this);
  }

  private onData(chunk: Buffer): void {
    this.lastReceivedAt = performance.now();
    let messages: FastMessage[];
    try {
      messages = this.decoder.push(chunk);
    } catch (err) {
      this.protocolFailure(err as FastProtocolError);
      return;
    }
    for (const msg of messages) {
      if (this.closed) return;
      this.onMessage(msg);
    }
  }

  private protocolFailure(err: FastProtocolError): void {
    this.fail(
      new FastConnectionError(this.client.address, `protocol error: ${err.message}`, {
        cause: err,
      }),
    );
  }

  private onMessage(msg: FastMessage): void {
    const req = this.requests.get(msg.msgid);
    if (!req) {
      this.protocolFailure(
        new FastProtocolError('unknown_msgid', `fast message for unknown msgid ${msg.msgid}`, {
          msgid: msg.msgid,
          status: msg.status,
        }),
      );
      return;
    }
    const d = msg.data.d;
    if (msg.status === FastStatus.Error) {
      this.complete(req, new FastServerError(req.method, errorPayload(d)));
      return;
    }
    // The decoder refuses a DATA/END whose d is not an array: `[]` is never reached.
    if (!req.abandoned) this.accept(req, Array.isArray(d) ? d : []);
    if (msg.status === FastStatus.End) this.complete(req, undefined);
  }

  private accept(req: Request, values: unknown[]): void {
    for (const value of values) {
      if (value === null) {
        if (req.ignoreNullValues) continue;
        this.abandon(
          req,
          new FastProtocolError(
            'null_value',
            `fast request "${req.method}" received a null value`,
            {
              msgid: req.msgid,
            },
          ),
        );
        return;
      }
      req.values.push(value);
    }
    if (!req.blocking && req.values.length - req.head >= this.maxBuffered) {
      req.blocking = true;
      if (this.blockers++ === 0) this.socket.pause();
    }
    this.wake(req);
  }

  /** END or ERROR: the request is over and its msgid is free again. */
  private complete(req: Request, err: Error | undefined): void {
    this.requests.delete(req.msgid);
    if (req.abandoned) {
      this.abandoned--;
      return;
    }
    req.ended = true;
    if (err) req.error = err;
    this.unblock(req);
    req.cleanup?.();
    this.wake(req);
  }
}

type ErrorPayload = {
  name: string;
  message: string;
  context?: Record<string, unknown>;
  info?: Record<string, unknown>;
};

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The server's error; the decoder vouches for name and message, a non-object context or info is dropped. */
function errorPayload(d: unknown): ErrorPayload {
  const e = isRecord(d) ? d : {};
  return {
    name: typeof e.name === 'string' ? e.name : 'FastError',
    message: typeof e.message === 'string' ? e.message : '',
    ...(isRecord(e.context) ? { context: e.context } : {}),
    ...(isRecord(e.info) ? { info: e.info } : {}),
  };
}
