/**
 * The head of an HTTP/1.x response (RFC 9112 §4–6), parsed strictly: a source that sends
 * anything this does not accept fails the download as `bad_response` rather than being
 * guessed at, because the body's framing decides which bytes are hashed and written.
 */
import { HttpGetError } from './errors.ts';

/** Longest head accepted (status line and headers, with their CRLFs). */
export const MAX_HEAD_BYTES = 16 * 1024;
const MAX_HEADERS = 100;

export type BodyFraming =
  | { readonly kind: 'length'; readonly length: number }
  | { readonly kind: 'chunked' }
  /** No length and not chunked: the body is everything up to the connection's end. */
  | { readonly kind: 'close' };

export interface ResponseHead {
  readonly status: number;
  readonly framing: BodyFraming;
  /** The connection may carry another request once this body is read whole. */
  readonly keepAlive: boolean;
  /** Header names in lower case; repeated headers joined with ", ". */
  readonly headers: ReadonlyMap<string, string>;
}

const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: [\t -~\u0080-\u00ff]*)?$/;
const HEADER_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*([\t -~\u0080-\u00ff]*?)[ \t]*$/;

function bad(message: string): HttpGetError {
  return new HttpGetError(`bad response from the source: ${message}`, 'bad_response');
}

/**
 * Parses a head given without its final empty line (`text` ends before "\r\n\r\n"), decoded
 * as latin1. Throws HttpGetError `bad_response`.
 */
export function parseResponseHead(text: string): ResponseHead {
  const lines = text.split('\r\n');
  const statusLine = STATUS_LINE.exec(lines[0]!);
  if (statusLine === null) throw bad(`status line ${JSON.stringify(lines[0]!.slice(0, 80))}`);
  if (lines.length - 1 > MAX_HEADERS) throw bad(`more than ${MAX_HEADERS} headers`);
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const header = HEADER_LINE.exec(line);
    if (header === null) throw bad(`header line ${JSON.stringify(line.slice(0, 80))}`);
    const name = header[1]!.toLowerCase();
    const prior = headers.get(name);
    headers.set(name, prior === undefined ? header[2]! : `${prior}, ${header[2]!}`);
  }
  const http11 = statusLine[1] === '1';
  const status = Number(statusLine[2]);
  const framing = framingOf(status, headers);
  const connection = tokens(headers.get('connection'));
  // Chunked with a Content-Length beside it is a smuggling pattern: read it, never reuse.
  const ambiguous = framing.kind === 'chunked' && headers.has('content-length');
  const keepAlive =
    framing.kind !== 'close' &&
    !ambiguous &&
    (http11 ? !connection.includes('close') : connection.includes('keep-alive'));
  return { status, framing, keepAlive, headers };
}

/** RFC 9112 §6.3, for a response to a GET. */
function framingOf(status: number, headers: ReadonlyMap<string, string>): BodyFraming {
  // 101 would switch protocols, which this client never asks for; other 1xx are interim
  // responses with no body, skipped by the caller.
  if (status === 101) throw bad('101 Switching Protocols to a GET');
  if (status < 200 || status === 204 || status === 304) return { kind: 'length', length: 0 };
  const te = headers.get('transfer-encoding');
  if (te !== undefined) {
    const codings = tokens(te);
    if (codings.length !== 1 || codings[0] !== 'chunked') {
      throw bad(`transfer-encoding ${JSON.stringify(te)} (only chunked is accepted)`);
    }
    return { kind: 'chunked' };
  }
  const cl = headers.get('content-length');
  if (cl === undefined) return { kind: 'close' };
  const values = new Set(cl.split(',').map((v) => v.trim()));
  const [value] = values;
  if (values.size !== 1 || !/^\d{1,15}$/.test(value!)) {
    throw bad(`content-length ${JSON.stringify(cl.slice(0, 80))}`);
  }
  return { kind: 'length', length: Number(value) };
}

function tokens(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t.length > 0);
}

/** An interim (1xx) response, whose head is skipped before the real one. */
export function isInterim(head: ResponseHead): boolean {
  return head.status >= 100 && head.status < 200;
}
