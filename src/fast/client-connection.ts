/**
 * One TCP connection of a FastClient and the requests in flight on it: frames in and out,
 * DATA/END/ERROR matched to requests by msgid, the socket paused while a consumer is behind,
 * and every request failed when the connection is lost.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../log/index.ts';
import { FastDecoder, type FastMessage, FastStatus } from './codec.ts';
import { FastConnectionError, FastProtocolError, FastServerError } from './errors.ts';
import { FrameWriter } from './writer.ts';

export /** One request's state; stays in its connection's table until END/ERROR even if abandoned. */
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

/** What a connection needs of its client: its address (for errors) and to hear it was lost. */
export interface ConnectionOwner {
  readonly address: string;
  lost(conn: ClientConnection): void;
}

export function toError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason ?? 'aborted'));
}

/** One TCP connection of a FastClient and the requests in flight on it. */
export class ClientConnection {
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
    private readonly client: ConnectionOwner,
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
