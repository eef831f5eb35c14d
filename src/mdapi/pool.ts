/**
 * A small pool of Fast connections to one buckets-mdapi shard with a bound on the requests
 * in flight. buckets-mdapi has no ping, so there is no health check: a connection on which
 * a request timed out is replaced by a fresh one (its other requests fail as a lost
 * connection, which the client retries), and a lost one reconnects on next use (FastClient
 * backs off, exponential and jittered).
 */
import { Semaphore } from '../async/index.ts';
import {
  FastClient,
  type FastClientOptions,
  FastConnectionError,
  type FastRequestOptions,
  FastTimeoutError,
} from '../fast/index.ts';
import type { Logger } from '../log/index.ts';

export interface MdapiPoolOptions {
  fast: FastClientOptions;
  connections: number;
  maxInFlight: number;
  log: Logger;
}

export class MdapiPool {
  private readonly slots: FastClient[];
  private readonly permits: Semaphore;
  private next = 0;
  private closed = false;

  constructor(private readonly opts: MdapiPoolOptions) {
    if (!Number.isInteger(opts.connections) || opts.connections < 1) {
      throw new RangeError(`connections must be a positive integer: ${opts.connections}`);
    }
    this.permits = new Semaphore(opts.maxInFlight);
    this.slots = Array.from({ length: opts.connections }, () => new FastClient(opts.fast));
  }

  /** Requests running now / connections up. */
  get active(): number {
    return this.permits.inUse;
  }

  get connectedCount(): number {
    return this.slots.filter((s) => s.connected).length;
  }

  /** Establishes every connection; resolves once at least one is up. */
  async connect(): Promise<void> {
    const results = await Promise.allSettled(this.slots.map((s) => s.connect()));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed && results.every((r) => r.status === 'rejected')) throw failed.reason;
  }

  /** Every value of the reply, on the connected connection with the fewest pending. */
  async call(method: string, args: unknown[], opts: FastRequestOptions): Promise<unknown[]> {
    this.throwIfClosed();
    await this.permits.acquire(opts.signal);
    try {
      this.throwIfClosed();
      const i = this.pick();
      const slot = this.slots[i] as FastClient;
      try {
        return await slot.call(method, args, opts);
      } catch (err) {
        if (err instanceof FastTimeoutError) this.replace(i, slot);
        throw err;
      }
    } finally {
      this.permits.release();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.close()));
  }

  private pick(): number {
    let best: number | undefined;
    for (let k = 0; k < this.slots.length; k++) {
      const i = (this.next + k) % this.slots.length;
      const slot = this.slots[i] as FastClient;
      const bestSlot = best === undefined ? undefined : (this.slots[best] as FastClient);
      if (slot.connected && (!bestSlot || slot.pending < bestSlot.pending)) best = i;
    }
    this.next = (this.next + 1) % this.slots.length;
    // None connected: the request makes that connection (re)connect.
    return best ?? this.next;
  }

  private replace(i: number, slot: FastClient): void {
    if (this.slots[i] !== slot || this.closed) return;
    this.opts.log.warn({ slot: i }, 'mdapi request timed out: replacing its connection');
    this.slots[i] = new FastClient(this.opts.fast);
    void slot.close();
  }

  private throwIfClosed(): void {
    if (this.closed) {
      throw new FastConnectionError(`${this.opts.fast.host}:${this.opts.fast.port}`, 'closed');
    }
  }
}
