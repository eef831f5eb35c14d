/**
 * A rate limit that can change while work waits on it (operator throttles: objects, bytes or
 * metadata updates per second). A token bucket holding at most `burstSeconds` of the rate;
 * one acquire may take more than the bucket holds (an assignment of many objects, a large
 * download chunk): it waits until the bucket is full and leaves it in debt, so the long-run
 * rate is the limit whatever the sizes asked for. Waiters are served in order.
 */

export interface RateLimiterOptions {
  /** Seconds of the rate the bucket holds, i.e. the largest burst (1). */
  burstSeconds?: number;
  now?: () => number;
}

interface Waiter {
  n: number;
  resolve(): void;
  reject(err: unknown): void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

export class RateLimiter {
  private perSecond: number | null;
  private tokens: number;
  private updatedAt: number;
  private readonly burstSeconds: number;
  private readonly now: () => number;
  private readonly waiters: Waiter[] = [];
  private timer: NodeJS.Timeout | undefined;

  /** `perSecond` null: unlimited. */
  constructor(perSecond: number | null, options: RateLimiterOptions = {}) {
    this.now = options.now ?? (() => performance.now());
    this.burstSeconds = options.burstSeconds ?? 1;
    this.perSecond = checkRate(perSecond);
    this.tokens = this.capacity();
    this.updatedAt = this.now();
  }

  /** The current limit per second; null when unlimited. */
  get rate(): number | null {
    return this.perSecond;
  }

  /** A new limit applies to waiters at once; what the bucket holds is kept (up to its size). */
  setRate(perSecond: number | null): void {
    this.refill();
    this.perSecond = checkRate(perSecond);
    this.tokens = Math.min(this.tokens, this.capacity());
    this.schedule();
  }

  /** Waits until `n` units may pass; an abort of `signal` ends the wait with its reason. */
  acquire(n: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (!(n >= 0) || !Number.isFinite(n)) throw new RangeError(`units must be >= 0: ${n}`);
    if (this.waiters.length === 0 && this.tryTake(n)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { n, resolve, reject, signal, onAbort: undefined };
      if (signal) {
        waiter.onAbort = () => {
          const at = this.waiters.indexOf(waiter);
          if (at >= 0) this.waiters.splice(at, 1);
          reject(signal.reason);
          this.schedule();
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.waiters.push(waiter);
      this.schedule();
    });
  }

  private capacity(): number {
    return this.perSecond === null ? Number.POSITIVE_INFINITY : this.perSecond * this.burstSeconds;
  }

  private refill(): void {
    const now = this.now();
    if (this.perSecond === null) this.tokens = Number.POSITIVE_INFINITY;
    else if (this.tokens === Number.POSITIVE_INFINITY) this.tokens = this.capacity();
    else {
      const elapsed = Math.max(0, now - this.updatedAt) / 1000;
      this.tokens = Math.min(this.capacity(), this.tokens + elapsed * this.perSecond);
    }
    this.updatedAt = now;
  }

  /** Takes `n` when the bucket holds them, or is full (a request larger than the bucket). */
  private tryTake(n: number): boolean {
    this.refill();
    if (this.perSecond === null) return true;
    if (this.tokens >= Math.min(n, this.capacity())) {
      this.tokens -= n;
      return true;
    }
    return false;
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.waiters.length > 0) {
      const first = this.waiters[0] as Waiter;
      if (!this.tryTake(first.n)) break;
      this.waiters.shift();
      if (first.onAbort) first.signal?.removeEventListener('abort', first.onAbort);
      first.resolve();
    }
    const first = this.waiters[0];
    if (first === undefined || this.perSecond === null) return;
    const missing = Math.min(first.n, this.capacity()) - this.tokens;
    const ms = Math.max(1, Math.ceil((missing / this.perSecond) * 1000));
    this.timer = setTimeout(() => this.schedule(), ms);
  }
}

function checkRate(perSecond: number | null): number | null {
  if (perSecond === null) return null;
  if (!(perSecond > 0) || !Number.isFinite(perSecond)) {
    throw new RangeError(`rate must be a positive number or null: ${perSecond}`);
  }
  return perSecond;
}
