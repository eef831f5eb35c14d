/**
 * A bounded asynchronous queue between producers and consumers. `push` waits while the queue
 * is full (backpressure: memory stays bounded whatever the volume); `close` lets consumers
 * drain what is queued and then end, or, given an error, then throw it; `fail` propagates an
 * error both ways at once, dropping what is queued — a producer blocked on `push` and a
 * consumer waiting on `shift` both see it. With `onConsumerStop`, a consumer that stops
 * iterating early cancels the queue: producers are refused from then on.
 */
import { RebalancerError } from '../errors.ts';

/** Pushing into a queue that was closed, or whose consumer stopped. */
export class QueueClosedError extends RebalancerError {
  override readonly name = 'QueueClosedError';
  readonly code = 'queue_closed';
}

export interface QueueOptions {
  /**
   * Called once when an iterating consumer leaves before the queue was closed and drained
   * (break, throw, return): waiting and later pushes then reject with QueueClosedError.
   * Without it, leaving a loop early changes nothing.
   */
  readonly onConsumerStop?: () => void;
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
  /** close(error): thrown to consumers once drained. */
  private endError: { err: unknown } | undefined;
  /** fail(error): thrown to everyone now. */
  private error: { err: unknown } | undefined;
  private cancelled = false;

  constructor(
    readonly capacity: number,
    private readonly options: QueueOptions = {},
  ) {
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

  /** Adds an item, waiting while the queue is full. Rejects once closed, cancelled or failed. */
  push(item: T): Promise<void> {
    if (this.error) return Promise.reject(this.error.err);
    if (this.closed) return Promise.reject(new QueueClosedError(this.closedMessage()));
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

  /**
   * The next item; `done` once the queue is closed and drained (or cancelled). Rejects once
   * failed, or once drained after `close(error)`.
   */
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
    if (this.closed) {
      return this.endError && !this.cancelled
        ? Promise.reject(this.endError.err)
        : Promise.resolve({ done: true, value: undefined });
    }
    return new Promise((resolve, reject) => this.shifters.push({ resolve, reject }));
  }

  /**
   * No more items: consumers drain what is queued, then end — or, given `error`, then throw
   * it. Waiting pushes reject with QueueClosedError. The first close (or fail) wins.
   */
  close(error?: unknown): void {
    if (this.closed || this.error) return;
    this.closed = true;
    if (error !== undefined) this.endError = { err: error };
    // Consumers wait only on an empty queue: they end (or throw) now.
    for (const s of this.shifters.splice(0)) {
      if (this.endError) s.reject(this.endError.err);
      else s.resolve({ done: true, value: undefined });
    }
    this.refusePushers('queue closed while a push was waiting');
  }

  /** Fails the queue: what is queued is dropped; every waiting and future push and shift rejects. */
  fail(err: unknown): void {
    if (this.error) return;
    this.error = { err };
    this.items.length = 0;
    this.head = 0;
    for (const s of this.shifters.splice(0)) s.reject(err);
    for (const p of this.pushers.splice(0)) p.reject(err);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    try {
      for (;;) {
        const next = await this.shift();
        if (next.done) return;
        yield next.value;
      }
    } finally {
      // Left before the end (break, throw, return) with the queue open or not drained.
      const ended = this.isClosed && this.size === 0;
      if (!ended && this.options.onConsumerStop) this.cancel(this.options.onConsumerStop);
    }
  }

  /** The consumer went away: producers are refused, what is queued is dropped. */
  private cancel(onConsumerStop: () => void): void {
    if (this.cancelled || this.error) return;
    this.cancelled = true;
    this.closed = true;
    this.items.length = 0;
    this.head = 0;
    this.refusePushers('the consumer stopped');
    onConsumerStop();
  }

  private refusePushers(message: string): void {
    for (const p of this.pushers.splice(0)) p.reject(new QueueClosedError(message));
  }

  private closedMessage(): string {
    return this.cancelled ? 'push after the consumer stopped' : 'push into a closed queue';
  }
}
