/**
 * Runs an operation until it succeeds, a failure is not worth retrying, the attempts are spent
 * or the signal aborts; between attempts it waits as `delay` says (see backoff.ts).
 */

import { RebalancerError } from '../errors.ts';
import type { Delay } from './backoff.ts';
import { sleep } from './sleep.ts';

export interface RetryOptions {
  /** Attempts in all, the first included (>= 1). */
  readonly attempts: number;
  /** The wait after the n-th failed attempt. */
  readonly delay: Delay;
  /** Whether a failure is worth another attempt (default: every one is). */
  readonly retryable?: (err: unknown) => boolean;
  /** Aborting ends the attempts (and any wait) with the signal's reason. */
  readonly signal?: AbortSignal;
  /** Told of each failure that will be retried, before the wait. */
  readonly onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

/** Every attempt failed with a retryable error; `lastError` is the last one's. */
export class RetriesExhaustedError extends RebalancerError {
  override readonly name = 'RetriesExhaustedError';
  readonly code = 'retries_exhausted';
  constructor(
    readonly attempts: number,
    readonly lastError: unknown,
  ) {
    super(lastError instanceof Error ? lastError.message : String(lastError), { cause: lastError });
  }
}

/**
 * `fn`'s result. Rejects with a non-retryable error as it is, with RetriesExhaustedError when
 * the attempts are spent, and with the signal's reason once it aborts.
 */
export async function retry<T>(
  fn: (attempt: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const { attempts, delay, retryable, signal, onRetry } = options;
  if (!(Number.isInteger(attempts) && attempts >= 1))
    throw new RangeError(`retry attempts must be a positive integer: ${attempts}`);
  for (let attempt = 1; ; attempt++) {
    signal?.throwIfAborted();
    try {
      return await fn(attempt);
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (retryable && !retryable(err)) throw err;
      if (attempt >= attempts) throw new RetriesExhaustedError(attempt, err);
      const ms = delay(attempt);
      onRetry?.(err, attempt, ms);
      await sleep(ms, signal);
    }
  }
}
