/**
 * One GET on a source connection: its response head, then its body as views of the
 * connection's read buffers, queued for the consumer. Every failure, before or after the
 * head, is one HttpGetError; a body never ends as whole unless its framing says it is.
 */
import { type BodyDecoder, bodyDecoder } from './body-framing.ts';
import { describe, HttpGetError } from './errors.ts';
import {
  isInterim,
  MAX_HEAD_BYTES,
  parseResponseHead,
  type ResponseHead,
} from './response-head.ts';

/** A response whose head has arrived; read its body with `body()`. */
export interface SourceResponse {
  readonly status: number;
  /** The announced length, when the body has one (not chunked, not up to the close). */
  readonly contentLength: number | undefined;
  /** The body arrived whole. */
  readonly complete: boolean;
  /**
   * The body, as views of pooled read buffers. Each view stays valid, and its buffer out of
   * the pool, until it is passed to `release`; a consumer must release every view it got.
   * Throws HttpGetError when the body cannot be read whole. Stopping early destroys the
   * connection.
   */
  body(): AsyncGenerator<Buffer, void, undefined>;
  release(view: Buffer): void;
  /** Reads and drops a small length-framed body (the connection may serve again); destroys others. */
  discard(limit?: number): Promise<void>;
  destroy(): void;
  /** Runs `wait` with the idle timer off: a body held back on purpose is not a silent source. */
  withoutIdleTimeout(wait: () => Promise<void>): Promise<void>;
}

/** What an exchange needs of its connection. */
export interface ExchangeHost {
  pin(view: Buffer): void;
  release(view: Buffer): void;
  /** The exchange is done or failed: the connection serves again (when `reusable`) or ends. */
  ended(exchange: Exchange): void;
  /** Ends the connection. */
  destroy(): void;
  setIdleTimeout(ms: number): void;
  readonly closed: boolean;
}

type Phase = 'head' | 'body' | 'done' | 'failed';

export class Exchange implements SourceResponse {
  private phase: Phase = 'head';
  private headText = '';
  private head: ResponseHead | undefined;
  private decoder: BodyDecoder | undefined;
  private readonly queue: Buffer[] = [];
  private failure: HttpGetError | undefined;
  private wake: (() => void) | undefined;
  private reading = false;
  /** Bytes arrived after the body's end: the connection must not serve again. */
  private trailingBytes = false;
  readonly headReady: Promise<SourceResponse>;
  private settleHead!: { resolve: (r: SourceResponse) => void; reject: (e: unknown) => void };

  constructor(
    private readonly url: string,
    private readonly host: ExchangeHost,
    private readonly idleTimeoutMs: number,
  ) {
    this.headReady = new Promise((resolve, reject) => {
      this.settleHead = { resolve, reject };
    });
  }

  get status(): number {
    return this.head?.status ?? 0;
  }
  get contentLength(): number | undefined {
    const framing = this.head?.framing;
    return framing?.kind === 'length' ? framing.length : undefined;
  }
  get complete(): boolean {
    return this.phase === 'done';
  }
  get finished(): boolean {
    return this.phase === 'done' || this.phase === 'failed';
  }
  /** The connection may carry the next request once this exchange is done. */
  get reusable(): boolean {
    return this.phase === 'done' && this.head?.keepAlive === true && !this.trailingBytes;
  }

  /** Bytes `buf[start, end)` arrived. Throws HttpGetError on a malformed response. */
  take(buf: Buffer, start: number, end: number): void {
    let at = start;
    while (at < end && this.phase === 'head') at = this.takeHead(buf, at, end);
    if (this.phase !== 'body') return;
    at += this.decoder!.feed(buf, at, end, (view) => this.enqueue(view));
    if (this.decoder!.done) {
      this.trailingBytes = at < end;
      this.finish();
    }
    this.notify();
  }

  private takeHead(buf: Buffer, at: number, end: number): number {
    const before = this.headText.length;
    // Never more than the limit (and its final CRLFCRLF) as text, whatever the source sends.
    const stop = Math.min(end, at + MAX_HEAD_BYTES + 4 - before);
    this.headText += buf.toString('latin1', at, stop);
    const found = this.headText.indexOf('\r\n\r\n', Math.max(0, before - 3));
    if (found === -1) {
      if (this.headText.length >= MAX_HEAD_BYTES + 4) {
        throw new HttpGetError(
          `bad response from the source: head over ${MAX_HEAD_BYTES} bytes`,
          'bad_response',
        );
      }
      return stop;
    }
    const head = parseResponseHead(this.headText.slice(0, found));
    const consumed = found + 4 - before;
    this.headText = '';
    if (isInterim(head)) return at + consumed;
    this.head = head;
    this.decoder = bodyDecoder(head.framing);
    this.phase = 'body';
    this.settleHead.resolve(this);
    return at + consumed;
  }

  private enqueue(view: Buffer): void {
    const last = this.queue[this.queue.length - 1];
    if (
      last !== undefined &&
      last.buffer === view.buffer &&
      last.byteOffset + last.length === view.byteOffset
    ) {
      // Contiguous with the view still queued: one longer view, one write segment fewer.
      this.queue[this.queue.length - 1] = Buffer.from(
        view.buffer,
        last.byteOffset,
        last.length + view.length,
      );
      return;
    }
    this.host.pin(view);
    this.queue.push(view);
  }

  private finish(): void {
    this.phase = 'done';
    this.host.ended(this);
  }

  /** The connection ended (EOF): a close-framed body ends here; any other is cut off. */
  endOfInput(): void {
    if (this.finished) return;
    if (this.phase === 'body' && this.decoder!.endOfInput()) {
      this.finish();
      this.notify();
      return;
    }
    this.fail(this.lost());
  }

  /** Nothing arrived for `ms`, the connection's idle timeout. */
  timedOut(ms: number): void {
    this.fail(new HttpGetError(`GET ${this.url}: nothing received for ${ms} ms`, 'idle_timeout'));
  }

  /** The connection failed or closed; `err` is its cause, if any. */
  connectionLost(err?: unknown): void {
    if (!this.finished) this.fail(this.lost(err));
  }

  private lost(cause?: unknown): HttpGetError {
    const why = cause === undefined ? '' : `: ${describe(cause)}`;
    if (this.phase === 'head') {
      return new HttpGetError(
        `GET ${this.url}: connection closed before the response head${why}`,
        'connection_failed',
        { cause },
      );
    }
    return new HttpGetError(
      `GET ${this.url}: connection lost after ${this.decoder!.received} body bytes` +
        ` of ${this.contentLength ?? 'an unknown number'}${why}`,
      'truncated',
      { cause },
    );
  }

  /** Fails the exchange with `err` (the first failure wins) and ends the connection. */
  fail(err: HttpGetError): void {
    if (this.finished) return;
    this.phase = 'failed';
    this.failure = err;
    this.settleHead.reject(err);
    this.notify();
    this.host.ended(this);
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  async *body(): AsyncGenerator<Buffer, void, undefined> {
    if (this.reading) throw new Error('a response body is read once');
    this.reading = true;
    let whole = false;
    try {
      for (;;) {
        const view = this.queue.shift();
        if (view !== undefined) {
          yield view;
          continue;
        }
        if (this.failure !== undefined) throw this.failure;
        if (this.phase === 'done') {
          whole = true;
          return;
        }
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
      }
    } finally {
      // Views never handed out go back at once; the ones handed out are the consumer's.
      if (!whole) this.destroy();
    }
  }

  release(view: Buffer): void {
    this.host.release(view);
  }

  async discard(limit = 64 * 1024): Promise<void> {
    const length = this.contentLength;
    if (length === undefined || length > limit) {
      this.destroy();
      return;
    }
    for await (const view of this.body()) this.release(view);
  }

  destroy(): void {
    // The unread body's buffers go back: a reused connection must not stay short of them.
    for (const view of this.queue.splice(0)) this.host.release(view);
    if (this.finished) {
      // A reusable connection is already carrying the next exchange.
      if (!this.reusable) this.host.destroy();
      return;
    }
    this.fail(new HttpGetError(`GET ${this.url}: response given up`, 'aborted'));
  }

  async withoutIdleTimeout(wait: () => Promise<void>): Promise<void> {
    if (this.finished || this.host.closed) return wait();
    this.host.setIdleTimeout(0);
    try {
      await wait();
    } finally {
      if (!this.finished && !this.host.closed) this.host.setIdleTimeout(this.idleTimeoutMs);
    }
  }
}
