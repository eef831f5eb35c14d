/**
 * Fault knobs of the mako stand-in (peers.md §2.5 item 4). Every fraction is decided by a
 * seeded hash of (seed, request number, fault kind), so a run with the same seed and the
 * same request order injects the same faults.
 */
import Type, { type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { RebalancerError } from '../../errors.ts';

const Rate = Type.Number({ minimum: 0, maximum: 1, description: 'fraction of requests, 0..1' });
const Paths = Type.Array(Type.String({ minLength: 1, maxLength: 4096 }), {
  maxItems: 100_000,
  description: 'URL paths (decoded, e.g. /owner/object) that always get this fault',
});
/** Fraction of the body sent before the connection is cut. */
const Fraction = Type.Number({ minimum: 0, maximum: 1 });

export const MakoFaultsInput = Type.Object(
  {
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 0xffffffff })),
    /** Added before every object request is answered. */
    latencyMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 3_600_000 })),
    /** Answer with `status` instead of serving. */
    error: Type.Optional(
      Type.Object(
        {
          rate: Type.Optional(Rate),
          paths: Type.Optional(Paths),
          status: Type.Optional(Type.Integer({ minimum: 400, maximum: 599 })),
          methods: Type.Optional(
            Type.Array(
              Type.Union([Type.Literal('GET'), Type.Literal('HEAD'), Type.Literal('PUT')]),
            ),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    /** GET/HEAD answer 404 as if the file were absent. */
    missing: Type.Optional(
      Type.Object(
        { rate: Type.Optional(Rate), paths: Type.Optional(Paths) },
        { additionalProperties: false },
      ),
    ),
    /** GET sends the full Content-Length but closes the connection after `fraction` of it. */
    truncate: Type.Optional(
      Type.Object(
        {
          rate: Type.Optional(Rate),
          paths: Type.Optional(Paths),
          fraction: Type.Optional(Fraction),
        },
        { additionalProperties: false },
      ),
    ),
    /** GET sends `fraction` of the body, then a TCP reset. */
    reset: Type.Optional(
      Type.Object(
        {
          rate: Type.Optional(Rate),
          paths: Type.Optional(Paths),
          fraction: Type.Optional(Fraction),
        },
        { additionalProperties: false },
      ),
    ),
    /** GET body sent at `bytesPerSecond` (a slow source, for download timeouts). */
    throttle: Type.Optional(
      Type.Object(
        {
          rate: Type.Optional(Rate),
          paths: Type.Optional(Paths),
          bytesPerSecond: Type.Optional(Type.Integer({ minimum: 1 })),
        },
        { additionalProperties: false },
      ),
    ),
    /** GET flips one byte in the middle of the body (same length, different MD5). */
    corrupt: Type.Optional(
      Type.Object(
        { rate: Type.Optional(Rate), paths: Type.Optional(Paths) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type MakoFaultsInput = Static<typeof MakoFaultsInput>;

interface Selector {
  readonly rate: number;
  readonly paths: ReadonlySet<string>;
}

/** Faults with every default filled in. */
export interface MakoFaults {
  readonly seed: number;
  readonly latencyMs: number;
  readonly error: Selector & { readonly status: number; readonly methods: readonly string[] };
  readonly missing: Selector;
  readonly truncate: Selector & { readonly fraction: number };
  readonly reset: Selector & { readonly fraction: number };
  readonly corrupt: Selector;
  readonly throttle: Selector & { readonly bytesPerSecond: number };
}

export type FaultKind = 'error' | 'missing' | 'truncate' | 'reset' | 'corrupt' | 'throttle';

const checkInput = Compile(MakoFaultsInput);

export class InvalidFaultsError extends RebalancerError {
  override readonly name = 'InvalidFaultsError';
  readonly code = 'invalid_mako_faults';
  constructor(readonly errors: readonly { path: string; message: string }[]) {
    super(`invalid mako faults: ${errors.map((e) => `${e.path || '/'} ${e.message}`).join('; ')}`);
  }
}

function selector(s: { rate?: number; paths?: string[] } | undefined): Selector {
  return { rate: s?.rate ?? 0, paths: new Set(s?.paths ?? []) };
}

/** Validates and normalises a fault description (throws InvalidFaultsError). */
export function parseFaults(input: unknown): MakoFaults {
  if (!checkInput.Check(input)) {
    throw new InvalidFaultsError(
      checkInput.Errors(input).map((e) => ({ path: e.instancePath, message: e.message })),
    );
  }
  return {
    seed: input.seed ?? 1,
    latencyMs: input.latencyMs ?? 0,
    error: {
      ...selector(input.error),
      status: input.error?.status ?? 500,
      methods: input.error?.methods ?? ['GET', 'HEAD', 'PUT'],
    },
    missing: selector(input.missing),
    truncate: { ...selector(input.truncate), fraction: input.truncate?.fraction ?? 0.5 },
    reset: { ...selector(input.reset), fraction: input.reset?.fraction ?? 0.5 },
    corrupt: selector(input.corrupt),
    throttle: {
      ...selector(input.throttle),
      bytesPerSecond: input.throttle?.bytesPerSecond ?? 1024,
    },
  };
}

/** JSON form of normalised faults (what GET /_sandbox/faults returns). */
export function faultsToJson(f: MakoFaults): MakoFaultsInput {
  const sel = (s: Selector) => ({ rate: s.rate, paths: [...s.paths] });
  return {
    seed: f.seed,
    latencyMs: f.latencyMs,
    error: {
      ...sel(f.error),
      status: f.error.status,
      methods: [...f.error.methods] as ('GET' | 'HEAD' | 'PUT')[],
    },
    missing: sel(f.missing),
    truncate: { ...sel(f.truncate), fraction: f.truncate.fraction },
    reset: { ...sel(f.reset), fraction: f.reset.fraction },
    corrupt: sel(f.corrupt),
    throttle: { ...sel(f.throttle), bytesPerSecond: f.throttle.bytesPerSecond },
  };
}

const KIND_SALT: Record<FaultKind, number> = {
  error: 0x9e3779b9,
  missing: 0x85ebca6b,
  truncate: 0xc2b2ae35,
  reset: 0x27d4eb2f,
  corrupt: 0x165667b1,
  throttle: 0xd3a2646c,
};

/** A uniform draw in [0, 1) from (seed, request number, kind): murmur3's 32-bit finaliser. */
function draw(seed: number, requestNumber: number, kind: FaultKind): number {
  let h = (seed ^ Math.imul(requestNumber + 1, 0x01000193) ^ KIND_SALT[kind]) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  return h / 0x1_0000_0000;
}

/** The decisions for one request. */
export class FaultDecider {
  /** The fault that fired (and so was applied) for this request, if any. */
  applied: FaultKind | undefined;

  constructor(
    private readonly faults: MakoFaults,
    private readonly requestNumber: number,
    private readonly path: string,
  ) {}

  get latencyMs(): number {
    return this.faults.latencyMs;
  }

  fires(kind: FaultKind): boolean {
    const s = this.faults[kind];
    const fired =
      s.paths.has(this.path) ||
      (s.rate > 0 && draw(this.faults.seed, this.requestNumber, kind) < s.rate);
    if (fired) this.applied = kind;
    return fired;
  }

  /** Status to answer instead of serving, or undefined. */
  errorStatus(method: string): number | undefined {
    const e = this.faults.error;
    return e.methods.includes(method) && this.fires('error') ? e.status : undefined;
  }

  /** The body fault for a GET (at most one: reset, truncate, corrupt, throttle, in that order). */
  bodyFault():
    | { kind: 'reset' | 'truncate'; fraction: number }
    | { kind: 'corrupt' }
    | { kind: 'throttle'; bytesPerSecond: number }
    | undefined {
    if (this.fires('reset')) return { kind: 'reset', fraction: this.faults.reset.fraction };
    if (this.fires('truncate'))
      return { kind: 'truncate', fraction: this.faults.truncate.fraction };
    if (this.fires('corrupt')) return { kind: 'corrupt' };
    if (this.fires('throttle')) {
      return { kind: 'throttle', bytesPerSecond: this.faults.throttle.bytesPerSecond };
    }
    return undefined;
  }
}

/** Holds the current faults; counts requests so that fractions are reproducible per seed. */
export class FaultController {
  private current: MakoFaults;
  private requests = 0;

  constructor(initial: unknown = {}) {
    this.current = parseFaults(initial);
  }

  get(): MakoFaults {
    return this.current;
  }

  /** Replaces all faults (absent knobs are off) and restarts the request count. */
  set(input: unknown): MakoFaults {
    this.current = parseFaults(input);
    this.requests = 0;
    return this.current;
  }

  reset(): void {
    this.set({});
  }

  /**
   * Whether a GET of `path` throttled earlier would be throttled now: once the faults no longer
   * throttle it, a download trickling under the old ones goes on at full speed.
   */
  throttles(path: string): boolean {
    const t = this.current.throttle;
    return t.rate > 0 || t.paths.has(path);
  }

  /** Decisions for the next object request. */
  next(path: string): FaultDecider {
    const n = this.requests;
    this.requests += 1;
    return new FaultDecider(this.current, n, path);
  }
}
