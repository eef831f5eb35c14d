/**
 * A bounded asynchronous queue joining two pipeline stages: `push` waits while the queue is
 * full (backpressure, so memory stays bounded whatever the job size), `close` lets the
 * consumer drain and then end, and `fail` propagates an error both ways — a producer blocked on
 * `push` and a consumer waiting on `shift` both see it.
 */

/** Pushing into a queue that was closed. */
export class QueueClosedError extends Error {
  override readonly name = 'QueueClosedError';
}

interface Waiter<T> {
  resolve: (value: T) => void;
  reject: (err: unknown) => void;
}

export class BoundedQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private head = 0;
  private readonly pushers: (Waiter<void> & { item: T })[] = [];
  private readonly shifters: Waiter<IteratorResult<T>>[] = [];
  private closed = false;
  private error: { err: unknown } | undefined;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`queue capacity must be a positive integer: ${capacity}`);
    }
  }

  get size(): number {
    return this.items.length - this.head;
  }

  get isClosed(): boolean {
    return this.closed || this.error !== undefined;
  }

  /** Adds an item, waiting while the queue is full. Rejects once the queue is closed or failed. */
  push(item: T): Promise<void> {
    if (this.error) return Promise.reject(this.error.err);
    if (this.closed) return Promise.reject(new QueueClosedError('push into a closed queue'));
    const shifter = this.shifters.shift();
    if (shifter) {
      shifter.resolve({ done: false, value: item });
      return Promise.resolve();
    }
    if (this.size < this.capacity) {
      this.items.push(item);
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => this.pushers.push({ item, resolve, reject }));
  }

  /** The next item; `done` once the queue is closed and drained. Rejects once failed. */
  shift(): Promise<IteratorResult<T>> {
    if (this.error) return Promise.reject(this.error.err);
    if (this.size > 0) {
      const value = this.items[this.head] as T;
      this.items[this.head] = undefined as T;
      this.head++;
      if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items.splice(0, this.head);
        this.head = 0;
      }
      const pusher = this.pushers.shift();
      if (pusher) {
        this.items.push(pusher.item);
        pusher.resolve();
      }
      return Promise.resolve({ done: false, value });
    }
    const pusher = this.pushers.shift();
    if (pusher) {
      pusher.resolve();
      return Promise.resolve({ done: false, value: pusher.item });
    }
    if (this.closed) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve, reject) => this.shifters.push({ resolve, reject }));
  }

  /** No more items: waiting consumers end once the queue is drained. Idempotent. */
  close(): void {
    if (this.closed || this.error) return;
    this.closed = true;
    for (const s of this.shifters.splice(0)) s.resolve({ done: true, value: undefined });
    for (const p of this.pushers.splice(0)) {
      p.reject(new QueueClosedError('queue closed while a push was waiting'));
    }
  }

  /** Fails the queue: every waiting and future push and shift rejects with `err`. */
  fail(err: unknown): void {
    if (this.error) return;
    this.error = { err };
    this.items.length = 0;
    this.head = 0;
    for (const s of this.shifters.splice(0)) s.reject(err);
    for (const p of this.pushers.splice(0)) p.reject(err);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      const next = await this.shift();
      if (next.done) return;
      yield next.value;
    }
  }
}
