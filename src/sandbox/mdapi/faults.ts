/**
 * Fault knobs of the buckets-mdapi stand-in (peers.md §3.7 item 6), applied before a request
 * is served: `slowMs` delays every request; `overloaded` answers `OverloadedError` (what a
 * real shard says when it cannot claim a database connection); `drop` closes the connection
 * without an answer. Each of the two fires for the next `count` requests, then for a
 * fraction `rate` decided by a seeded draw, so a run is reproducible. `methods` limits them
 * to some RPCs (default: all).
 */
import Type, { type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { RebalancerError } from '../../errors.ts';

const Trigger = Type.Object(
  {
    /** The next this many requests. */
    count: Type.Optional(Type.Integer({ minimum: 0 })),
    /** Then this fraction of requests, 0..1. */
    rate: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  },
  { additionalProperties: false },
);

export const MdapiFaultsInput = Type.Object(
  {
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 0xffffffff })),
    methods: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    slowMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 3_600_000 })),
    overloaded: Type.Optional(Trigger),
    drop: Type.Optional(Trigger),
  },
  { additionalProperties: false },
);
export type MdapiFaultsInput = Static<typeof MdapiFaultsInput>;

export type MdapiFault = 'overloaded' | 'drop';

export class InvalidMdapiFaultsError extends RebalancerError {
  override readonly name = 'InvalidMdapiFaultsError';
  readonly code = 'invalid_mdapi_faults';
}

const checkInput = Compile(MdapiFaultsInput);

/** A uniform draw in [0, 1) from (seed, request number, fault): murmur3's finaliser. */
function draw(seed: number, n: number, fault: MdapiFault): number {
  let h =
    (seed ^ Math.imul(n + 1, 0x01000193) ^ (fault === 'drop' ? 0x85ebca6b : 0x27d4eb2f)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return ((h ^ (h >>> 16)) >>> 0) / 0x1_0000_0000;
}

/** What happens to one request. */
export interface FaultDecision {
  readonly delayMs: number;
  readonly fault: MdapiFault | undefined;
}

/** The current faults, their remaining counts and the request count of the rates. */
export class MdapiFaults {
  #input: MdapiFaultsInput = {};
  #left = { overloaded: 0, drop: 0 };
  #requests = 0;

  constructor(initial: unknown = {}) {
    this.set(initial);
  }

  /** The faults as set, with what is left of their counts. */
  get(): MdapiFaultsInput {
    const out: MdapiFaultsInput = { ...this.#input };
    for (const fault of ['overloaded', 'drop'] as const) {
      const t = this.#input[fault];
      if (t) out[fault] = { ...t, count: this.#left[fault] };
    }
    return out;
  }

  /** Replaces every fault (absent ones are off) and restarts the draws. */
  set(input: unknown): MdapiFaultsInput {
    if (!checkInput.Check(input)) {
      const why = checkInput
        .Errors(input)
        .map((e) => `${e.instancePath || '/'} ${e.message}`)
        .join('; ');
      throw new InvalidMdapiFaultsError(`invalid mdapi faults: ${why}`);
    }
    this.#input = structuredClone(input);
    this.#left = { overloaded: input.overloaded?.count ?? 0, drop: input.drop?.count ?? 0 };
    this.#requests = 0;
    return this.get();
  }

  /** The decision for the next request of `method`. */
  next(method: string): FaultDecision {
    const input = this.#input;
    if (input.methods && !input.methods.includes(method)) return { delayMs: 0, fault: undefined };
    const n = this.#requests++;
    let fault: MdapiFault | undefined;
    for (const kind of ['drop', 'overloaded'] as const) {
      if (fault) break;
      if (this.#left[kind] > 0) {
        this.#left[kind]--;
        fault = kind;
      } else if ((input[kind]?.rate ?? 0) > draw(input.seed ?? 1, n, kind)) {
        fault = kind;
      }
    }
    return { delayMs: input.slowMs ?? 0, fault };
  }
}
