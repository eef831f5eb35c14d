/**
 * A small pool of Fast connections to one Moray shard, with a bound on the requests in flight
 * (callers beyond it wait in FIFO order) and a health check: every interval each connection is
 * pinged; one that is down reconnects (FastClient backs off, exponential and jittered) and one
 * that does not answer in time is replaced by a fresh connection.
 */
import { randomUUID } from 'node:crypto';
import {
  FastClient,
  type FastClientOptions,
  FastConnectionError,
  type FastRequestOptions,
  FastTimeoutError,
} from '../fast/index.ts';
import type { Logger } from '../log/index.ts';

export interface PoolOptions {
  fast: FastClientOptions;
  connections: number;
  maxInFlight: number;
  healthCheckIntervalMs: number;
  healthCheckTimeoutMs: number;
  log: Logger;
}

export class ConnectionPool {
  private readonly slots: FastClient[];
  private inFlight = 0;
  private readonly waiters: (() => void)[] = [];
  private next = 0;
  private timer: NodeJS.Timeout | undefined;
  private checking = false;
  private closed = false;

  constructor(private readonly opts: PoolOptions) {
    if (!Number.isInteger(opts.connections) || opts.connections < 1) {
      throw new RangeError(`connections must be a positive integer: ${opts.connections}`);
    }
    if (!Number.isInteger(opts.maxInFlight) || opts.maxInFlight < 1) {
      throw new RangeError(`maxInFlight must be a positive integer: ${opts.maxInFlight}`);
    }
    this.slots = Array.from({ length: opts.connections }, () => new FastClient(opts.fast));
    if (opts.healthCheckIntervalMs > 0) {
      this.timer = setInterval(() => void this.healthCheck(), opts.healthCheckIntervalMs);
      this.timer.unref();
    }
  }

  /** Requests running now (each holds one in-flight permit). */
  get active(): number {
    return this.inFlight;
  }

  /** Callers waiting for a permit. */
  get queued(): number {
    return this.waiters.length;
  }

  /** Connections currently established. */
  get connectedCount(): number {
    return this.slots.filter((s) => s.connected).length;
  }

  /** Establishes every connection; resolves once at least one is up. */
  async connect(): Promise<void> {
    const results = await Promise.allSettled(this.slots.map((s) => s.connect()));
    if (results.every((r) => r.status === 'rejected')) {
      throw (results[0] as PromiseRejectedResult).reason;
    }
  }

  /** Waits for an in-flight permit; the returned function gives it back (call it once). */
  async acquire(): Promise<() => void> {
    if (this.closed) throw new FastConnectionError(this.opts.fast.host, 'moray client closed');
    if (this.inFlight < this.opts.maxInFlight) {
      this.inFlight++;
    } else {
      // The releaser hands its permit over directly, so inFlight stays at the bound.
      await new Promise<void>((resolve) => this.waiters.push(resolve));
      // close() wakes waiters without handing over a permit.
      if (this.closed) {
        throw new FastConnectionError(this.opts.fast.host, 'moray client closed');
      }
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.release();
    };
  }

  /** The connection for the next request: a connected one with the fewest pending, else any. */
  pick(): FastClient {
    let best: FastClient | undefined;
    for (let i = 0; i < this.slots.length; i++) {
      const slot = this.slots[(this.next + i) % this.slots.length]!;
      if (slot.connected && (!best || slot.pending < best.pending)) best = slot;
    }
    this.next = (this.next + 1) % this.slots.length;
    // None connected: the request makes that connection reconnect (after its backoff delay).
    return best ?? this.slots[this.next]!;
  }

  request(method: string, args: unknown[], opts: FastRequestOptions): AsyncIterable<unknown> {
    return this.pick().request(method, args, opts);
  }

  /** Pings every connection; reconnects dead ones, replaces hung ones. */
  async healthCheck(): Promise<void> {
    if (this.checking || this.closed) return;
    this.checking = true;
    try {
      await Promise.all(this.slots.map((_, i) => this.checkSlot(i)));
    } finally {
      this.checking = false;
    }
  }

  private async checkSlot(i: number): Promise<void> {
    const slot = this.slots[i]!;
    // A connection busy answering shows it is alive; a ping would queue behind its responses
    // (a large findObjects or sql window) and could time out for no fault of the shard.
    if (slot.recentlyActive(this.opts.healthCheckIntervalMs / 2)) return;
    try {
      await slot.call('ping', [{ deep: false, req_id: randomUUID() }], {
        timeoutMs: this.opts.healthCheckTimeoutMs,
      });
    } catch (err) {
      if (this.closed) return;
      if (err instanceof FastTimeoutError && this.slots[i] === slot) {
        this.opts.log.warn({ err, slot: i }, 'moray connection hung: replacing it');
        this.slots[i] = new FastClient(this.opts.fast);
        // In-flight requests on the old connection fail with FastConnectionError.
        await slot.close();
      } else {
        this.opts.log.warn({ err, slot: i }, 'moray health check failed');
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    for (const wake of this.waiters.splice(0)) wake();
    await Promise.all(this.slots.map((s) => s.close()));
  }

  private release(): void {
    const wake = this.waiters.shift();
    if (wake) wake();
    else this.inFlight--;
  }
}
