/**
 * One TCP connection to a source shark, carrying one GET at a time. Reads go through
 * node:net's `onread` hook into the connection's pooled buffers (read-buffers.ts), so a
 * download allocates no memory per read; reading stops while the connection holds its
 * maximum of buffers and starts again as the consumer releases them.
 */
import { connect, type Socket } from 'node:net';
import { HttpGetError } from './errors.ts';
import { Exchange, type ExchangeHost, type SourceResponse } from './exchange.ts';
import {
  ConnectionBuffers,
  MAX_BUFFERS_PER_CONNECTION,
  type ReadBufferPool,
} from './read-buffers.ts';

export interface HttpGetOptions {
  signal: AbortSignal;
  /** Longest wait for the connection to be established. */
  connectTimeoutMs: number;
  /** Longest silence while waiting for the head or the next body bytes (not a total cap). */
  idleTimeoutMs: number;
}

/** What the client is told of a connection's life. */
export interface ConnectionEvents {
  /** The exchange is done and the connection may carry another. */
  idle(connection: SourceConnection): void;
  /** The socket closed; the connection is gone. */
  closed(connection: SourceConnection): void;
}

export class SourceConnection implements ExchangeHost {
  private readonly socket: Socket;
  private readonly buffers: ConnectionBuffers;
  private exchange: Exchange | undefined;
  private paused = false;
  private connected = false;
  private detach: (() => void) | undefined;
  closed = false;
  /** Exchanges carried to their end: a connection that served one before is a reused one. */
  served = 0;

  constructor(
    host: string,
    port: number,
    pool: ReadBufferPool,
    private readonly events: ConnectionEvents,
  ) {
    this.buffers = new ConnectionBuffers(pool);
    this.socket = connect({
      host,
      port,
      onread: { buffer: () => this.buffers.target(), callback: (n) => this.onRead(n) },
    });
    this.socket.setNoDelay(true);
    this.socket.once('connect', () => {
      this.connected = true;
    });
    this.socket.on('error', (err) => this.exchange?.connectionLost(err));
    this.socket.on('end', () => {
      if (this.exchange === undefined) this.destroy();
      else this.exchange.endOfInput();
    });
    this.socket.on('timeout', () => this.exchange?.timedOut(this.socket.timeout ?? 0));
    this.socket.once('close', () => {
      this.closed = true;
      this.buffers.close();
      this.exchange?.connectionLost();
      this.events.closed(this);
    });
  }

  /** Sends a GET for `path`; resolves once the response head arrived. */
  request(
    url: string,
    path: string,
    hostHeader: string,
    options: HttpGetOptions,
  ): Promise<SourceResponse> {
    if (this.exchange !== undefined || this.closed) throw new Error('connection is busy or closed');
    const exchange = new Exchange(url, this, options.idleTimeoutMs);
    this.exchange = exchange;
    const onAbort = (): void => exchange.fail(new HttpGetError(`GET ${url} aborted`, 'aborted'));
    options.signal.addEventListener('abort', onAbort, { once: true });
    let connectTimer: NodeJS.Timeout | undefined;
    if (!this.connected) {
      connectTimer = setTimeout(() => {
        exchange.fail(
          new HttpGetError(
            `GET ${url}: not connected after ${options.connectTimeoutMs} ms`,
            'connect_timeout',
          ),
        );
      }, options.connectTimeoutMs);
      this.socket.once('connect', () => clearTimeout(connectTimer));
    }
    this.detach = () => {
      clearTimeout(connectTimer);
      options.signal.removeEventListener('abort', onAbort);
    };
    if (options.signal.aborted) {
      onAbort();
      return exchange.headReady;
    }
    this.socket.setTimeout(options.idleTimeoutMs);
    this.socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostHeader}\r\n\r\n`, 'latin1');
    if (this.paused) this.resumeIfRoom();
    return exchange.headReady;
  }

  /** The read callback: `n` bytes landed in the buffer `target()` gave. */
  private onRead(n: number): boolean {
    const { buf, start } = this.buffers.landed(n);
    const exchange = this.exchange;
    if (exchange === undefined) {
      // Bytes nobody asked for, on an idle connection: it cannot be trusted to frame the next.
      this.destroy();
    } else {
      try {
        exchange.take(buf, start, start + n);
      } catch (err) {
        exchange.fail(
          err instanceof HttpGetError
            ? err
            : new HttpGetError(`bad response from the source: ${String(err)}`, 'bad_response', {
                cause: err,
              }),
        );
      }
    }
    const more = this.buffers.rotate();
    if (!more) this.paused = true;
    return more;
  }

  ended(exchange: Exchange): void {
    if (exchange !== this.exchange) return;
    this.detach?.();
    this.detach = undefined;
    this.exchange = undefined;
    if (!exchange.reusable || this.closed) {
      this.destroy();
      return;
    }
    this.served++;
    this.socket.setTimeout(0);
    this.events.idle(this);
  }

  pin(view: Buffer): void {
    this.buffers.pin(view);
  }

  release(view: Buffer): void {
    if (this.buffers.release(view)) this.resumeIfRoom();
  }

  private resumeIfRoom(): void {
    if (!this.paused || this.closed || this.buffers.held >= MAX_BUFFERS_PER_CONNECTION) return;
    this.paused = false;
    this.socket.resume();
  }

  setIdleTimeout(ms: number): void {
    if (!this.closed) this.socket.setTimeout(ms);
  }

  destroy(): void {
    if (!this.socket.destroyed) this.socket.destroy();
  }
}
