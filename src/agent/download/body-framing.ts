/**
 * Body framing (RFC 9112 §6–7): which bytes after the head are the body. Each decoder hands
 * the body on as views of the bytes it is fed (never copies) and says when the body is whole,
 * so a connection that ends early is told apart from an end of body.
 */
import { HttpGetError } from './errors.ts';
import type { BodyFraming } from './response-head.ts';

export interface BodyDecoder {
  /**
   * Takes bytes `buf[start, end)`, passing each run of body bytes to `onData` as a view of
   * `buf`. Returns how many bytes it consumed: fewer than given only once the body is done.
   */
  feed(buf: Buffer, start: number, end: number, onData: (view: Buffer) => void): number;
  /** The body is whole (for `close` framing: never before the connection's end). */
  readonly done: boolean;
  /** Body bytes passed on so far. */
  readonly received: number;
  /** Called at the connection's end; true when that end is the body's own. */
  endOfInput(): boolean;
}

export function bodyDecoder(framing: BodyFraming): BodyDecoder {
  switch (framing.kind) {
    case 'length':
      return new LengthDecoder(framing.length);
    case 'chunked':
      return new ChunkedDecoder();
    case 'close':
      return new CloseDecoder();
  }
}

class LengthDecoder implements BodyDecoder {
  received = 0;
  constructor(private readonly length: number) {}
  get done(): boolean {
    return this.received === this.length;
  }
  feed(buf: Buffer, start: number, end: number, onData: (view: Buffer) => void): number {
    const n = Math.min(end - start, this.length - this.received);
    if (n > 0) {
      this.received += n;
      onData(buf.subarray(start, start + n));
    }
    return n;
  }
  endOfInput(): boolean {
    return this.done;
  }
}

class CloseDecoder implements BodyDecoder {
  received = 0;
  done = false;
  feed(buf: Buffer, start: number, end: number, onData: (view: Buffer) => void): number {
    if (end > start) {
      this.received += end - start;
      onData(buf.subarray(start, end));
    }
    return end - start;
  }
  endOfInput(): boolean {
    this.done = true;
    return true;
  }
}

const MAX_SIZE_LINE = 1024;
const MAX_TRAILERS = 16 * 1024;
const CHUNK_SIZE = /^([0-9a-fA-F]{1,13})[ \t]*(?:;[\t -~\u0080-\u00ff]*)?$/;
const LF = 0x0a;

type ChunkedState = 'size' | 'data' | 'data-end' | 'trailers' | 'done';

class ChunkedDecoder implements BodyDecoder {
  received = 0;
  private state: ChunkedState = 'size';
  /** The line being read (a size line, a data chunk's CRLF, or a trailer line), in latin1. */
  private line = '';
  private trailerBytes = 0;
  private remaining = 0;

  get done(): boolean {
    return this.state === 'done';
  }

  feed(buf: Buffer, start: number, end: number, onData: (view: Buffer) => void): number {
    let at = start;
    while (at < end && this.state !== 'done') {
      if (this.state === 'data') {
        const n = Math.min(end - at, this.remaining);
        onData(buf.subarray(at, at + n));
        this.received += n;
        this.remaining -= n;
        at += n;
        if (this.remaining === 0) this.state = 'data-end';
        continue;
      }
      const lf = buf.subarray(at, end).indexOf(LF);
      const stop = lf === -1 ? end : at + lf + 1;
      this.line += buf.toString('latin1', at, stop);
      at = stop;
      this.checkLineLength();
      if (lf === -1) break;
      this.endOfLine();
    }
    return at - start;
  }

  private checkLineLength(): void {
    const limit = this.state === 'trailers' ? MAX_TRAILERS - this.trailerBytes : MAX_SIZE_LINE;
    if (this.line.length > limit) throw bad(`chunked ${this.state} line over ${limit} bytes`);
  }

  /** `line` holds one whole line, with its line feed. */
  private endOfLine(): void {
    const line = this.line;
    this.line = '';
    if (!line.endsWith('\r\n')) throw bad(`chunked ${this.state} line without CRLF`);
    const text = line.slice(0, -2);
    switch (this.state) {
      case 'size': {
        const size = CHUNK_SIZE.exec(text);
        if (size === null) throw bad(`chunk size line ${JSON.stringify(text.slice(0, 80))}`);
        this.remaining = Number.parseInt(size[1]!, 16);
        this.state = this.remaining === 0 ? 'trailers' : 'data';
        return;
      }
      case 'data-end':
        if (text !== '') throw bad('chunk data longer than its size');
        this.state = 'size';
        return;
      case 'trailers':
        this.trailerBytes += line.length;
        if (text === '') this.state = 'done';
        return;
      default:
        throw new Error(`unreachable chunked state ${this.state}`);
    }
  }

  endOfInput(): boolean {
    return this.done;
  }
}

function bad(message: string): HttpGetError {
  return new HttpGetError(`bad response from the source: ${message}`, 'bad_response');
}
