/**
 * Fast RPC server (spec/protocols.md §1.5–§1.8): handlers registered by method name, one value
 * per DATA frame, END with `d: []`, errors as ERROR frames, every answer in the request's own
 * version. A malformed frame, a duplicate pending msgid or a client END closes only that
 * connection.
 */
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { createLogger, type Logger } from '../log/index.ts';
import type { FastHandler } from './rpc.ts';
import { ServerConnection } from './server-connection.ts';

export { type FastHandler, type FastRpc, RpcError } from './rpc.ts';

export interface FastServerOptions {
  log?: Logger;
  /** Largest request payload accepted; default 64 MiB. */
  maxMessageSize?: number;
  /** How long close() lets in-flight RPCs run before destroying their sockets; default 10 s. */
  closeTimeoutMs?: number;
  /**
   * Bytes a connection buffers before `write` makes handlers wait; default 1 MiB. Larger than
   * the stream default (16 KiB) so a streaming handler hands the kernel big writes and is not
   * woken for every few records.
   */
  socketHighWaterMark?: number;
}

export class FastServer {
  private readonly log: Logger;
  private readonly maxMessageSize: number | undefined;
  private readonly closeTimeoutMs: number;
  private readonly socketHighWaterMark: number;
  private readonly handlers = new Map<string, FastHandler>();
  private readonly connections = new Set<ServerConnection>();
  private server: Server | undefined;
  private closing = false;

  constructor(opts: FastServerOptions = {}) {
    this.log = opts.log ?? createLogger({ name: 'fast-server' });
    this.maxMessageSize = opts.maxMessageSize;
    this.closeTimeoutMs = opts.closeTimeoutMs ?? 10_000;
    this.socketHighWaterMark = opts.socketHighWaterMark ?? 1 << 20;
  }

  register(method: string, handler: FastHandler): void {
    this.handlers.set(method, handler);
  }

  /** Handler for `method`, if registered (used by connections). */
  handler(method: string): FastHandler | undefined {
    return this.handlers.get(method);
  }

  /** Listens on `host` (default 127.0.0.1); port 0 picks a free port. */
  listen(port: number, host = '127.0.0.1'): Promise<{ host: string; port: number }> {
    if (this.server) return Promise.reject(new Error('fast server already listening'));
    // Half-open: a client may send its requests and FIN; we still answer them, then close.
    const server = createServer(
      { noDelay: true, allowHalfOpen: true, highWaterMark: this.socketHighWaterMark },
      (socket) => this.accept(socket),
    );
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        server.on('error', (err) => this.log.error({ err }, 'fast server error'));
        const addr = server.address() as AddressInfo;
        this.log.info({ host: addr.address, port: addr.port }, 'fast server listening');
        resolve({ host: addr.address, port: addr.port });
      });
    });
  }

  /** Address the server listens on, once listening. */
  address(): { host: string; port: number } | undefined {
    const addr = this.server?.address();
    return addr && typeof addr === 'object' ? { host: addr.address, port: addr.port } : undefined;
  }

  /** Number of open client connections. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /**
   * Graceful: stop accepting connections and new requests, let in-flight RPCs finish (at most
   * `closeTimeoutMs`), close each connection once idle, then destroy what is left.
   */
  async close(): Promise<void> {
    const server = this.server;
    if (!server || this.closing) return;
    this.closing = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const conn of this.connections) conn.shutdown();
    const timer = setTimeout(() => {
      for (const conn of this.connections) {
        conn.destroy('server close timed out with RPCs in flight');
      }
    }, this.closeTimeoutMs);
    try {
      await closed;
    } finally {
      clearTimeout(timer);
    }
    this.log.info('fast server closed');
  }

  private accept(socket: Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    const conn = new ServerConnection(this, socket, this.log, this.maxMessageSize);
    this.connections.add(conn);
    socket.once('close', () => this.connections.delete(conn));
  }
}

/** One client connection: decodes requests, runs handlers, writes their answers. */
