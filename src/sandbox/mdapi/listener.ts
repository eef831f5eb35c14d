/**
 * The stand-in's Fast listener: src/fast's server connections (framing, versions, errors
 * exactly as FastServer), but each request's handler is chosen knowing its connection, so
 * that a fault can close that connection without an answer — which FastServer, rightly,
 * does not let a handler do.
 */
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import type { FastHandler } from '../../fast/index.ts';
import { ServerConnection } from '../../fast/server-connection.ts';
import type { Logger } from '../../log/index.ts';

/** The connection a request came on, as its handler may act on it. */
export interface RequestConnection {
  /** Closes the connection at once: pending requests get no answer. */
  drop(why: string): void;
}

/** The handler of `method` for a request on `connection`. */
export type HandlerFor = (method: string, connection: RequestConnection) => FastHandler;

export interface FastListenerOptions {
  log: Logger;
  handlerFor: HandlerFor;
  /** How long close() lets in-flight requests run before destroying sockets; default 10 s. */
  closeTimeoutMs?: number;
}

export class FastListener {
  private readonly connections = new Set<ServerConnection>();
  private server: Server | undefined;
  private closing = false;

  constructor(private readonly opts: FastListenerOptions) {}

  listen(port: number, host: string): Promise<{ host: string; port: number }> {
    const server = createServer(
      { noDelay: true, allowHalfOpen: true, highWaterMark: 1 << 20 },
      (socket) => this.accept(socket),
    );
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        server.on('error', (err) => this.opts.log.error({ err }, 'mdapi listener error'));
        const addr = server.address() as AddressInfo;
        resolve({ host: addr.address, port: addr.port });
      });
    });
  }

  /** Closes every client connection now (clients see the connection lost). */
  dropAll(why: string): void {
    for (const conn of this.connections) conn.destroy(why);
  }

  /** Stops accepting, lets in-flight requests finish (bounded), then closes what is left. */
  async close(): Promise<void> {
    const server = this.server;
    if (!server || this.closing) return;
    this.closing = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const conn of this.connections) conn.shutdown();
    const timer = setTimeout(
      () => this.dropAll('close timed out with requests in flight'),
      this.opts.closeTimeoutMs ?? 10_000,
    );
    try {
      await closed;
    } finally {
      clearTimeout(timer);
    }
  }

  private accept(socket: Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    const handle: RequestConnection = { drop: (why) => conn.destroy(why) };
    const conn: ServerConnection = new ServerConnection(
      { handler: (method) => this.opts.handlerFor(method, handle) },
      socket,
      this.opts.log,
      undefined,
    );
    this.connections.add(conn);
    socket.once('close', () => this.connections.delete(conn));
  }
}
