/**
 * The buffers downloads are read into, reused rather than allocated per read. node:net gives
 * every read a new buffer of its own; V8 counts such external memory towards its next major
 * GC, and at the agent's heap cap that meant a full mark-compact every ~20 MB downloaded.
 * Here each connection reads into a buffer from a shared pool, packing small reads into one
 * buffer's free tail, and a buffer goes back to the pool only once no view of it is in use:
 * not queued, not with the consumer (a write in flight), not the target of a read.
 */

/** Each pooled buffer's size. */
export const READ_BUFFER_BYTES = 64 * 1024;

/** A read goes into the current buffer's free tail while at least this much of it is left. */
const MIN_READ_BYTES = 8 * 1024;

/**
 * Buffers one connection may hold (read into, queued, with the consumer) before it stops
 * reading until one is released. A consumer that gathers views for a write must write before
 * it holds views of more than `MAX_BUFFERS_PER_CONNECTION / 2 - 1` buffers, with one such batch
 * in flight, or the connection stalls (see temp-file.ts).
 */
export const MAX_BUFFERS_PER_CONNECTION = 10;

/** Free buffers shared by all connections; keeps at most `keep` of them. */
export class ReadBufferPool {
  private readonly free: Buffer[] = [];
  constructor(private readonly keep: number) {}

  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
  }

  give(buf: Buffer): void {
    if (this.free.length < this.keep) this.free.push(buf);
  }

  /** Free buffers held. */
  get size(): number {
    return this.free.length;
  }
}

interface Pin {
  readonly buf: Buffer;
  count: number;
}

/**
 * One connection's buffers. The socket reads into `target()`; `landed` says where a read's
 * bytes are; views handed out are `pin`ned until `release`d.
 */
export class ConnectionBuffers {
  private current: Buffer;
  private used = 0;
  /** By the pooled buffer's ArrayBuffer: how many views of it are out. */
  private readonly pins = new Map<ArrayBufferLike, Pin>();
  private closed = false;

  constructor(private readonly pool: ReadBufferPool) {
    this.current = pool.take();
  }

  /** Where the next read goes: the current buffer's free tail. */
  target(): Buffer {
    return this.current.subarray(this.used);
  }

  /** A read of `n` bytes landed in `target()`: they are `buf[start, start + n)`. */
  landed(n: number): { buf: Buffer; start: number } {
    const start = this.used;
    this.used += n;
    return { buf: this.current, start };
  }

  /**
   * Picks the next read's target, once the bytes that landed were handed on. Returns false
   * when the connection holds its maximum of buffers and must stop reading.
   */
  rotate(): boolean {
    if (!this.pins.has(this.current.buffer)) {
      this.used = 0;
    } else if (this.current.length - this.used < MIN_READ_BYTES) {
      this.current = this.pool.take();
      this.used = 0;
    }
    return this.held < MAX_BUFFERS_PER_CONNECTION;
  }

  /** Distinct buffers this connection holds, the read target included. */
  get held(): number {
    return this.pins.size + (this.pins.has(this.current.buffer) ? 0 : 1);
  }

  /** `view` (of a buffer of this connection) is in use until released. */
  pin(view: Buffer): void {
    const pin = this.pins.get(view.buffer);
    if (pin !== undefined) pin.count++;
    else this.pins.set(view.buffer, { buf: this.bufferOf(view), count: 1 });
  }

  /** Done with `view`. Returns true when that freed a buffer and the connection is below its max. */
  release(view: Buffer): boolean {
    const pin = this.pins.get(view.buffer);
    if (pin === undefined) throw new Error('released a view that is not pinned');
    if (--pin.count > 0) return false;
    this.pins.delete(view.buffer);
    if (pin.buf !== this.current || this.closed) this.pool.give(pin.buf);
    return this.held < MAX_BUFFERS_PER_CONNECTION;
  }

  /** The socket is closed: no more reads. Buffers still pinned go back when released. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.pins.has(this.current.buffer)) this.pool.give(this.current);
  }

  private bufferOf(view: Buffer): Buffer {
    if (view.buffer === this.current.buffer) return this.current;
    throw new Error('pinned a view of a buffer that is not being read into');
  }
}
