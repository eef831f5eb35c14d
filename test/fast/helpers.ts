/** Test helpers for Fast: raw sockets that speak frames directly, gates, a silent logger. */
import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import {
  encodeFrame,
  FastDecoder,
  type FastMessage,
  type FastStatus,
  type FastVersion,
} from '../../src/fast/index.ts';
import { createLogger } from '../../src/log/index.ts';

export const log = createLogger({ name: 'test', level: 'silent' });

export interface Gate {
  wait: Promise<void>;
  open(): void;
}

export function gate(): Gate {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait, open };
}

export function frame(
  status: FastStatus,
  msgid: number,
  name: string | null,
  d: unknown,
  version: FastVersion = 2,
): Buffer {
  return encodeFrame({ version, status, msgid, data: { m: { uts: 1, name }, d } });
}

/** A socket that reads frames into a queue. */
export class RawPeer {
  private readonly decoder = new FastDecoder();
  private readonly queue: FastMessage[] = [];
  private waiter: (() => void) | undefined;
  readonly closed: Promise<void>;
  ended = false;

  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.queue.push(...this.decoder.push(chunk));
      this.waiter?.();
    });
    socket.on('error', () => {
      // The tests observe the close; an ECONNRESET from a server that dropped us is expected.
      this.ended = true;
    });
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.ended = true;
        this.waiter?.();
        resolve();
      }),
    );
  }

  static async connect(port: number): Promise<RawPeer> {
    const socket = connect({ host: '127.0.0.1', port });
    await once(socket, 'connect');
    return new RawPeer(socket);
  }

  send(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** The next frame, or undefined when the socket closed first. */
  async next(): Promise<FastMessage | undefined> {
    for (;;) {
      const msg = this.queue.shift();
      if (msg) return msg;
      if (this.ended) return undefined;
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
      });
      this.waiter = undefined;
    }
  }

  destroy(): Promise<void> {
    this.socket.destroy();
    return this.closed;
  }
}

/** A TCP server whose connections are handed to the test as RawPeers. */
export async function rawServer(
  onPeer: (peer: RawPeer) => void,
): Promise<{ port: number; server: Server; peers: RawPeer[]; close(): Promise<void> }> {
  const peers: RawPeer[] = [];
  const server = createServer((socket) => {
    const peer = new RawPeer(socket);
    peers.push(peer);
    onPeer(peer);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    server,
    peers,
    async close() {
      await Promise.all(peers.map((p) => p.destroy()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
