/**
 * The wait before the n-th retry (n from 1) as one formula: exponential (`factor`), linear
 * (`stepMs`) or both, capped at `maxMs`, optionally jittered so that many clients failing
 * together do not retry together.
 */
export interface BackoffOptions {
  /** The wait before the first retry. */
  readonly initialMs: number;
  /** No wait is longer. */
  readonly maxMs: number;
  /** Each wait is the previous one times this (default 2; 1 for none). */
  readonly factor?: number;
  /** Added per retry after the first (default 0): `{factor: 1, stepMs}` grows linearly. */
  readonly stepMs?: number;
  /** Up to this fraction of each wait is taken off at random (0..1, default 0). */
  readonly jitter?: number;
}

/** `(attempt) => ms`, attempt 1 being the wait after the first failure. */
export type Delay = (attempt: number) => number;

export function backoff(options: BackoffOptions): Delay {
  const { initialMs, maxMs, factor = 2, stepMs = 0, jitter = 0 } = options;
  for (const [name, v] of [
    ['initialMs', initialMs],
    ['maxMs', maxMs],
    ['stepMs', stepMs],
  ] as const) {
    if (!(Number.isFinite(v) && v >= 0)) throw new RangeError(`backoff ${name} must be >= 0: ${v}`);
  }
  if (!(Number.isFinite(factor) && factor >= 1))
    throw new RangeError(`backoff factor must be >= 1: ${factor}`);
  if (!(jitter >= 0 && jitter <= 1)) throw new RangeError(`backoff jitter must be 0..1: ${jitter}`);
  return (attempt) => {
    const n = Math.max(1, Math.floor(attempt)) - 1;
    // factor ** n overflows to Infinity for large n; 0 * Infinity would be NaN.
    const grown = initialMs === 0 ? 0 : initialMs * factor ** n;
    const ms = Math.min(maxMs, grown + stepMs * n);
    return Math.round(jitter === 0 ? ms : ms * (1 - jitter * Math.random()));
  };
}
