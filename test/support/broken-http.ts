/**
 * An HTTP server (raw node:net on port 0) that answers every request with a response it cuts
 * off: the status line and headers, then part of the body (its Content-Length promises more),
 * then the socket is destroyed. What a peer that crashes or drops the connection mid-response
 * looks like to a client.
 */
import { once } from 'node:events';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';

export interface BrokenResponse {
  /** e.g. `200 OK`. */
  readonly status?: string;
  /** Bytes of the body actually sent. */
  readonly partialBody?: string;
  /** The Content-Length announced; default: 100 more than what is sent. */
  readonly contentLength?: number;
  /** Extra header lines (`Name: value`). */
  readonly headers?: readonly string[];
  /** Send only part of the status line, no headers: the cut comes before the headers end. */
  readonly cutInHeaders?: boolean;
}

export interface BrokenHttpServer {
  readonly url: string;
  /** Requests received (their first line, e.g. `POST /assignments HTTP/1.1`). */
  readonly requests: string[];
  close(): Promise<void>;
}

export async function startBrokenHttpServer(
  response: BrokenResponse | ((requestLine: string) => BrokenResponse),
): Promise<BrokenHttpServer> {
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => {
      // The client may reset the connection it saw break; nothing to do here.
    });
    let head = '';
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      const line = head.slice(0, head.indexOf('\r\n'));
      requests.push(line);
      const r = typeof response === 'function' ? response(line) : response;
      if (r.cutInHeaders) {
        socket.write(`HTTP/1.1 ${r.status ?? '200 OK'}\r\nContent-Le`);
      } else {
        const body = Buffer.from(r.partialBody ?? '', 'utf8');
        const length = r.contentLength ?? body.length + 100;
        const extra = (r.headers ?? []).map((h) => `${h}\r\n`).join('');
        socket.write(
          `HTTP/1.1 ${r.status ?? '200 OK'}\r\nContent-Length: ${length}\r\n${extra}\r\n`,
        );
        socket.write(body);
      }
      // Let the bytes reach the client first, so that it sees the headers (and body) begin.
      setTimeout(() => socket.destroy(), 20);
    };
    socket.on('data', onData);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
