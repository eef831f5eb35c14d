/** Raw HTTP over node:net, for requests no HTTP client would send (bad request lines, CONNECT). */
import assert from 'node:assert/strict';
import { connect } from 'node:net';

export interface RawResponse {
  /** `HTTP/1.1 400 Bad Request`, or '' when the server closed without answering. */
  readonly statusLine: string;
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** Sends `bytes` on a new connection and reads until the server closes it (or `waitMs`). */
export function rawRequest(port: number, bytes: string, waitMs = 3000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), waitMs);
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(parse(Buffer.concat(chunks).toString('utf8')));
    });
  });
}

function parse(text: string): RawResponse {
  const end = text.indexOf('\r\n\r\n');
  const head = end < 0 ? text : text.slice(0, end);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = end < 0 ? '' : text.slice(end + 4);
  if (headers['transfer-encoding'] === 'chunked') body = unchunk(body);
  const status = Number(/^HTTP\/1\.[01] ([0-9]{3})/.exec(statusLine)?.[1] ?? 0);
  return { statusLine, status, headers, body };
}

function unchunk(body: string): string {
  let out = '';
  let rest = body;
  for (;;) {
    const eol = rest.indexOf('\r\n');
    if (eol < 0) return out;
    const size = Number.parseInt(rest.slice(0, eol), 16);
    if (!(size > 0)) return out;
    out += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 2 + size + 2);
  }
}

/** The requests Node's HTTP layer answers (or drops) by itself, and what each must get. */
export const PROTOCOL_CASES: readonly { what: string; bytes: string; status: number }[] = [
  { what: 'HTTP/1.1 without Host', bytes: 'GET /jobs HTTP/1.1\r\n\r\n', status: 400 },
  {
    what: 'Expect: foo',
    bytes: 'GET /jobs HTTP/1.1\r\nHost: x\r\nExpect: foo\r\n\r\n',
    status: 417,
  },
  { what: 'CONNECT', bytes: 'CONNECT example.com:443 HTTP/1.1\r\nHost: x\r\n\r\n', status: 405 },
  { what: 'a malformed request line', bytes: 'GARBAGE\r\n\r\n', status: 400 },
  {
    what: 'a bad Content-Length',
    bytes: 'POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n',
    status: 400,
  },
  {
    what: 'headers over the size limit',
    bytes: `GET /jobs HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    status: 431,
  },
  {
    what: 'a bad percent-encoding',
    bytes: 'GET /%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    status: 400,
  },
];

/** Asserts a JSON error answer `{code, message}` with the expected status. */
export function assertJsonError(res: RawResponse, status: number, what: string): void {
  assert.equal(res.status, status, `${what}: status line ${JSON.stringify(res.statusLine)}`);
  assert.match(res.headers['content-type'] ?? '', /^application\/json/, `${what}: content-type`);
  const body = JSON.parse(res.body) as { code?: unknown; message?: unknown };
  assert.equal(typeof body.code, 'string', `${what}: ${res.body}`);
  assert.equal(typeof body.message, 'string', `${what}: ${res.body}`);
}
