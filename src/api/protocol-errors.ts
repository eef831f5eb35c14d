/**
 * JSON answers for the errors Node's HTTP layer would otherwise answer itself, with an
 * empty body or by dropping the connection: an unparsable request (malformed request line,
 * bad header, header overflow, timeout), an HTTP/1.1 request without `Host`, an `Expect`
 * other than 100-continue and `CONNECT`. Both services install these, so every error a
 * client can see is `{"code", "message"}` (manager.md §13.10, agent.md §11).
 */
import { type IncomingMessage, type Server, type ServerResponse, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * Options for `http.createServer` (fastify's `http` option). Node answers a request without
 * `Host` itself, with an empty 400 and no event; it is let through to be answered with a
 * JSON body by `lacksRequiredHost` in the app instead.
 */
export const NODE_HTTP_OPTIONS = { requireHostHeader: false } as const;

export const ProtocolErrorCode = {
  BadRequest: 'BadRequest',
  RequestTimeout: 'RequestTimeout',
  HeadersTooLarge: 'HeadersTooLarge',
  ExpectationFailed: 'ExpectationFailed',
  MethodNotAllowed: 'MethodNotAllowed',
} as const;

/**
 * The message of a 500 answer (code `InternalError`), the same on both services: the error
 * that escaped a handler, which the service also logs.
 */
export function internalErrorMessage(err: unknown): string {
  return `internal error: ${err instanceof Error ? err.message : String(err)}`;
}

export function errorJson(code: string, message: string): string {
  return JSON.stringify({ code, message });
}

/** A complete HTTP/1.1 response that closes the connection, for writing to a raw socket. */
function rawResponse(status: number, code: string, message: string): string {
  const body = errorJson(code, message);
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
    'Content-Type: application/json\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    'Connection: close\r\n\r\n' +
    body
  );
}

/** What Node's llhttp error code means for the client, as Node's own default answers. */
function classify(err: { code?: string; message: string }): [number, string, string] {
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [408, ProtocolErrorCode.RequestTimeout, 'request not received in time'];
    case 'HPE_HEADER_OVERFLOW':
      return [431, ProtocolErrorCode.HeadersTooLarge, 'request headers too large'];
    default: {
      const reason = (err as { reason?: string }).reason ?? err.message;
      return [400, ProtocolErrorCode.BadRequest, `malformed HTTP request: ${reason}`];
    }
  }
}

/**
 * fastify's `clientErrorHandler` (Node's 'clientError' event): the request could not be
 * parsed, so there is no request object; the answer goes straight to the socket.
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Duplex): void {
  // A reset connection has nobody left to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  if (socket.writable) {
    const [status, code, message] = classify(err);
    socket.end(rawResponse(status, code, message));
  }
  // end() flushes and half-closes; a peer that never closes its side is cut off.
  setTimeout(() => socket.destroy(), 1000).unref();
}

/** Answers `Expect` values other than 100-continue (417) and `CONNECT` (405) with JSON. */
export function guardProtocolErrors(server: Server): void {
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    const body = errorJson(
      ProtocolErrorCode.ExpectationFailed,
      `unsupported Expect: ${String(req.headers.expect)}`,
    );
    res.writeHead(417, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      connection: 'close',
    });
    res.end(body);
  });
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    socket.on('error', () => socket.destroy());
    socket.end(
      rawResponse(405, ProtocolErrorCode.MethodNotAllowed, 'CONNECT is not supported here'),
    );
    setTimeout(() => socket.destroy(), 1000).unref();
  });
}

/** RFC 9112 §3.2: an HTTP/1.1 request without `Host` must get a 400. */
export function lacksRequiredHost(req: IncomingMessage): boolean {
  return req.httpVersionMajor === 1 && req.httpVersionMinor === 1 && req.headers.host === undefined;
}
