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
import { ClientConnection, type Request, toError } from './client-connection.ts';
import {
  DEFAULT_MAX_MESSAGE_SIZE,
  encodeFrame,
  FAST_HEADER_SIZE,
  FastStatus,
  type FastVersion,
  nowMicros,
} from './codec.ts';
import { FastConnectionError, FastProtocolError, FastTimeoutError } from './errors.ts';
import { MsgidAllocator } from './msgid.ts';

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
