/** Wire/config shapes of the storinfo stand-in (TypeBox: one definition, type + validation). */
import Type, { type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { RebalancerError } from '../../errors.ts';
import { isStorageId } from '../../manta/ids.ts';

export const SharkConfig = Type.Object(
  {
    /** `N.stor.domain`, or `host:port` of the mako stand-in in test deployments. */
    manta_storage_id: Type.String({ minLength: 1, maxLength: 260 }),
    datacenter: Type.String({ minLength: 1 }),
    /** The mako's object root; its real usage is reported. */
    root: Type.String({ minLength: 1 }),
    /** Size of the pretend filesystem. */
    capacityBytes: Type.Integer({ minimum: 0 }),
    server_uuid: Type.Optional(Type.String()),
    zone_uuid: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type SharkConfig = Static<typeof SharkConfig>;

/** Minnow heartbeat of a node: `frozen` stops it (minnow disabled), `stale` backdates it past `lag`. */
export const Heartbeat = Type.Union([
  Type.Literal('live'),
  Type.Literal('frozen'),
  Type.Literal('stale'),
]);
export type Heartbeat = Static<typeof Heartbeat>;

export const SharkPatch = Type.Object(
  {
    heartbeat: Type.Optional(Heartbeat),
    capacityBytes: Type.Optional(Type.Integer({ minimum: 0 })),
    datacenter: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);
export type SharkPatch = Static<typeof SharkPatch>;

/** Faults on `GET /storagenodes[/:id]` (stand-in only, peers.md §1.8 item 5). */
export const StorinfoFaults = Type.Object(
  {
    /** Answer with this status (JSON error body) instead of the nodes. */
    status: Type.Optional(Type.Integer({ minimum: 400, maximum: 599 })),
    latencyMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 3_600_000 })),
    /** `malformed-json`: a body that does not parse; `missing-field`: records lack `timestamp`. */
    body: Type.Optional(
      Type.Union([Type.Literal('malformed-json'), Type.Literal('missing-field')]),
    ),
  },
  { additionalProperties: false },
);
export type StorinfoFaults = Static<typeof StorinfoFaults>;

/** The CLI's JSON config file (also the options of startStorinfo minus `log`). */
export const StorinfoConfig = Type.Object(
  {
    sharks: Type.Array(SharkConfig),
    /** Nodes with percentUsed above this are not listed (storinfo default 92). */
    maxOperatorUtilizationPct: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
    /** Heartbeats older than this are not listed (SAPI value 60 000 ms). */
    lagMs: Type.Optional(Type.Integer({ minimum: 0 })),
    /** Cache refresh period (storinfo's `storageInterval`, 30 000 ms). */
    pollIntervalMs: Type.Optional(Type.Integer({ minimum: 10 })),
    host: Type.Optional(Type.String()),
    port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
    faults: Type.Optional(StorinfoFaults),
  },
  { additionalProperties: false },
);
export type StorinfoConfig = Static<typeof StorinfoConfig>;

export class InvalidStorinfoInputError extends RebalancerError {
  override readonly name = 'InvalidStorinfoInputError';
  readonly code = 'invalid_storinfo_input';
  constructor(
    readonly what: string,
    readonly errors: readonly { path: string; message: string }[],
  ) {
    super(`invalid ${what}: ${errors.map((e) => `${e.path || '/'} ${e.message}`).join('; ')}`);
  }
}

type Checker<T> = {
  Check(v: unknown): v is T;
  Errors(v: unknown): { instancePath: string; message: string }[];
};

function validator<T>(what: string, checker: Checker<T>, extra?: (v: T) => string | undefined) {
  return (input: unknown): T => {
    if (!checker.Check(input)) {
      throw new InvalidStorinfoInputError(
        what,
        checker.Errors(input).map((e) => ({ path: e.instancePath, message: e.message })),
      );
    }
    const problem = extra?.(input);
    if (problem !== undefined)
      throw new InvalidStorinfoInputError(what, [{ path: '', message: problem }]);
    return input;
  };
}

function sharkProblem(s: SharkConfig): string | undefined {
  return isStorageId(s.manta_storage_id, { allowHostPort: true })
    ? undefined
    : `manta_storage_id ${JSON.stringify(s.manta_storage_id)} is not N.stor.<domain> nor host:port`;
}

export const parseSharkConfig = validator('shark', Compile(SharkConfig), sharkProblem);
export const parseSharkPatch = validator('shark patch', Compile(SharkPatch));
export const parseStorinfoFaults = validator('storinfo faults', Compile(StorinfoFaults));
export const parseStorinfoConfig = validator('storinfo config', Compile(StorinfoConfig), (c) => {
  const seen = new Set<string>();
  for (const s of c.sharks) {
    const problem = sharkProblem(s);
    if (problem !== undefined) return problem;
    if (seen.has(s.manta_storage_id)) return `duplicate manta_storage_id ${s.manta_storage_id}`;
    seen.add(s.manta_storage_id);
  }
  return undefined;
});
