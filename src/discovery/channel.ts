/**
 * A bounded queue from many producers (shard scanners) to one consumer, read as an async
 * iterable: a producer's `push` waits while the queue is full, so a slow consumer slows the
 * scan and memory stays bounded by `capacity`.
 */

/** Thrown to producers when the consumer went away or the channel was ended. */
export class ChannelClosedError extends Error {
  override readonly name = 'ChannelClosedError';
  constructor() {
    super('discovery consumer stopped');
  }
}

export class BoundedChannel<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private head = 0;
  private readonly spaceWaiters: (() => void)[] = [];
  private itemWaiter: (() => void) | undefined;
  private ended = false;
  private failure: { error: unknown } | undefined;
  private cancelled = false;
  private readonly onCancel: () => void;

  constructor(
    private readonly capacity: number,
    onCancel: () => void = () => undefined,
  ) {
    if (!(Number.isInteger(capacity) && capacity >= 1)) {
      throw new RangeError(`channel capacity must be a positive integer: ${capacity}`);
    }
    this.onCancel = onCancel;
  }

  get size(): number {
    return this.items.length - this.head;
  }

  /** Enqueues, waiting for room. Rejects with ChannelClosedError once the consumer stopped. */
  async push(item: T): Promise<void> {
    while (this.size >= this.capacity) {
      if (this.cancelled || this.ended) throw new ChannelClosedError();
      await new Promise<void>((resolve) => this.spaceWaiters.push(resolve));
    }
    // Ended early (another shard failed) or cancelled: the producer stops.
    if (this.cancelled || this.ended) throw new ChannelClosedError();
    this.items.push(item);
    this.wakeConsumer();
  }

  /** No more items; the consumer drains what is queued, then ends (or throws `error`). */
  end(error?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    if (error !== undefined) this.failure = { error };
    this.wakeConsumer();
    this.wakeProducers();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    try {
      for (;;) {
        if (this.size > 0) {
          const item = this.items[this.head] as T;
          this.items[this.head] = undefined as T;
          this.head++;
          if (this.head > 1024 && this.head * 2 > this.items.length) {
            this.items.splice(0, this.head);
            this.head = 0;
          }
          this.wakeProducers();
          yield item;
          continue;
        }
        if (this.ended) {
          if (this.failure) throw this.failure.error;
          return;
        }
        await new Promise<void>((resolve) => {
          this.itemWaiter = resolve;
        });
      }
    } finally {
      if (!this.ended || this.size > 0) this.cancel();
    }
  }

  private cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.wakeProducers();
    this.onCancel();
  }

  private wakeConsumer(): void {
    const w = this.itemWaiter;
    this.itemWaiter = undefined;
    w?.();
  }

  private wakeProducers(): void {
    for (const w of this.spaceWaiters.splice(0)) w();
  }
}
