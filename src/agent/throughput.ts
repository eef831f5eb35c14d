/**
 * Measured download rate over the last few seconds, in per-second buckets: counting a chunk is
 * an addition and a clock read (it runs per body chunk), the rate is computed when scraped.
 */

export class ThroughputMeter {
  private readonly buckets: number[];
  /** The second (since the epoch of `now`) the newest bucket counts. */
  private second: number;
  private readonly startedAt: number;

  constructor(
    private readonly windowSeconds = 10,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.buckets = new Array<number>(windowSeconds).fill(0);
    this.startedAt = now();
    this.second = Math.floor(this.startedAt / 1000);
  }

  add(bytes: number): void {
    this.advance();
    this.buckets[this.second % this.windowSeconds]! += bytes;
  }

  /** Bytes per second over the window (or since start, when younger than the window). */
  perSecond(): number {
    this.advance();
    const now = this.now();
    // The window: the full seconds before this one, and this one so far.
    const windowStart = Math.max(this.startedAt, (this.second - this.windowSeconds + 1) * 1000);
    const seconds = (now - windowStart) / 1000;
    if (seconds <= 0) return 0;
    let bytes = 0;
    for (const b of this.buckets) bytes += b;
    return bytes / seconds;
  }

  /** Moves to the current second, emptying the buckets of the seconds that passed. */
  private advance(): void {
    const current = Math.floor(this.now() / 1000);
    if (current === this.second) return;
    const passed = Math.min(current - this.second, this.windowSeconds);
    for (let i = 1; i <= passed; i++) this.buckets[(this.second + i) % this.windowSeconds] = 0;
    this.second = current;
  }
}
