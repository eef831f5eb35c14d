/**
 * Keeps a snapshot of storinfo's storage nodes fresh by polling on an interval (L: every 10 s).
 *
 * Unlike L (manager.md §13.16), a failed poll never replaces the snapshot: the last good one is
 * kept and its age and the last error are exposed so the job can decide to pause.
 */
import type { Logger } from '../log/index.ts';
import type { StorinfoClient } from './client.ts';
import type { StorinfoNode } from './node.ts';

export interface StorinfoSnapshot {
  readonly nodes: readonly StorinfoNode[];
  /** When the listing completed (ms since epoch). */
  readonly fetchedAt: number;
  /** Increments with every successful poll; lets consumers notice a new snapshot cheaply. */
  readonly version: number;
}

export interface StorinfoStatus {
  readonly snapshot: StorinfoSnapshot | undefined;
  /** Age of the snapshot in ms, undefined when there has never been a good poll. */
  readonly ageMs: number | undefined;
  readonly lastError: Error | undefined;
  readonly lastErrorAt: number | undefined;
  /** Failed polls since the last good one. */
  readonly consecutiveFailures: number;
}

export interface StorinfoPollerOptions {
  client: StorinfoClient;
  /** Delay between the end of one poll and the start of the next. Default 10,000 ms (L). */
  intervalMs?: number;
  log?: Logger;
  /** Injectable clock for tests. */
  now?: () => number;
}

export class StorinfoPoller {
  private readonly client: StorinfoClient;
  private readonly intervalMs: number;
  private readonly log: Logger | undefined;
  private readonly now: () => number;
  private current: StorinfoSnapshot | undefined;
  private lastError: Error | undefined;
  private lastErrorAt: number | undefined;
  private failures = 0;
  private inFlight: Promise<StorinfoSnapshot | undefined> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private abort = new AbortController();

  constructor(options: StorinfoPollerOptions) {
    this.client = options.client;
    this.intervalMs = options.intervalMs ?? 10_000;
    if (!(this.intervalMs > 0)) throw new RangeError(`intervalMs must be > 0: ${this.intervalMs}`);
    this.log = options.log;
    this.now = options.now ?? Date.now;
  }

  /** Polls once now, then every `intervalMs`. Resolves after the first poll, good or not. */
  async start(): Promise<StorinfoStatus> {
    if (this.running) return this.status();
    this.running = true;
    if (this.abort.signal.aborted) this.abort = new AbortController();
    await this.poll();
    this.schedule();
    return this.status();
  }

  /** Stops polling and aborts a poll in progress; the snapshot stays readable. */
  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.abort.abort(new Error('storinfo poller stopped'));
  }

  /** The last good snapshot (possibly old: check `status().ageMs`). */
  snapshot(): StorinfoSnapshot | undefined {
    return this.current;
  }

  status(): StorinfoStatus {
    return {
      snapshot: this.current,
      ageMs: this.current === undefined ? undefined : this.now() - this.current.fetchedAt,
      lastError: this.lastError,
      lastErrorAt: this.lastErrorAt,
      consecutiveFailures: this.failures,
    };
  }

  /**
   * Polls now (joining a poll already in progress). Resolves with the new snapshot, or with
   * undefined when the poll failed (the error is in `status().lastError`).
   */
  poll(): Promise<StorinfoSnapshot | undefined> {
    this.inFlight ??= this.pollOnce().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  /**
   * Asks storinfo to refresh its cache, then polls. Throws if the flush request fails (the
   * snapshot is unchanged); resolves like `poll()` otherwise.
   */
  async flush(): Promise<StorinfoSnapshot | undefined> {
    await this.client.flush(this.abort.signal);
    // A poll already in flight may have read the pre-flush cache: wait for it, then poll anew.
    if (this.inFlight) await this.inFlight;
    return this.poll();
  }

  private async pollOnce(): Promise<StorinfoSnapshot | undefined> {
    let nodes: StorinfoNode[];
    try {
      nodes = await this.client.listStorageNodes(this.abort.signal);
    } catch (err) {
      this.lastError = err instanceof Error ? err : new Error(String(err));
      this.lastErrorAt = this.now();
      this.failures++;
      this.log?.warn(
        {
          err: this.lastError,
          consecutiveFailures: this.failures,
          snapshotAgeMs: this.current ? this.now() - this.current.fetchedAt : null,
        },
        'storinfo poll failed; keeping the last good snapshot',
      );
      return undefined;
    }
    const snapshot: StorinfoSnapshot = {
      nodes,
      fetchedAt: this.now(),
      version: (this.current?.version ?? 0) + 1,
    };
    this.current = snapshot;
    this.failures = 0;
    this.log?.debug({ nodes: nodes.length, version: snapshot.version }, 'storinfo snapshot');
    return snapshot;
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.poll().then(() => this.schedule());
    }, this.intervalMs);
    // The poller never keeps a process alive by itself; its owner stops it.
    this.timer.unref();
  }
}
