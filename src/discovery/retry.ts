/** How a shard's window (or stream resume) is retried: the toolkit's backoff, capped at 30 s. */
import { backoff } from '../async/index.ts';

export interface RetryPolicy {
  /** Retries after the first attempt. */
  readonly retries: number;
  /** The wait after the n-th failure. */
  readonly delay: (attempt: number) => number;
}

/** `retries` retries, the first after `firstDelayMs`, each wait doubling up to 30 s. */
export function retryPolicy(retries: number, firstDelayMs: number): RetryPolicy {
  return { retries, delay: backoff({ initialMs: firstDelayMs, factor: 2, maxMs: 30_000 }) };
}
