/**
 * A storage node ("shark") as storinfo's `GET /storagenodes` reports it (peers.md §1.5): the
 * six fields the rebalancer consumes, all required; any other field is ignored. Its live
 * state (space, heartbeat); where the node is, alone, is the project's StorageNode.
 */
import { type Static, Type } from 'typebox';
import { Compile } from 'typebox/compile';
import { RebalancerError } from '../errors.ts';

export const StorinfoNodeSchema = Type.Object({
  /** MiB free on the node's object filesystem (minnow: floor(free bytes / 1 MiB)). */
  availableMB: Type.Integer({ minimum: 0 }),
  /** Integer percentage used (minnow rounds up); a fractional value is rejected as L does. */
  percentUsed: Type.Integer({ minimum: 0, maximum: 100 }),
  filesystem: Type.String(),
  datacenter: Type.String(),
  manta_storage_id: Type.String({ minLength: 1 }),
  /** Epoch milliseconds of minnow's last heartbeat. */
  timestamp: Type.Integer({ minimum: 0 }),
});

export type StorinfoNode = Static<typeof StorinfoNodeSchema>;

const checkNode = Compile(StorinfoNodeSchema);

/** L also accepts these snake_case spellings (serde aliases). */
const ALIASES: readonly (readonly [alias: string, field: keyof StorinfoNode])[] = [
  ['available_mb', 'availableMB'],
  ['percent_used', 'percentUsed'],
];

/** A storinfo record that is not a valid storage node; names the offending field. */
export class InvalidStorinfoNodeError extends RebalancerError {
  override readonly name = 'InvalidStorinfoNodeError';
  readonly code = 'invalid_storage_node';
  constructor(
    /** Position of the record in its page. */
    readonly index: number,
    /** The record's manta_storage_id when it has a usable one. */
    readonly storageId: string | undefined,
    /** The field at fault (`availableMB`, `percentUsed`, ...), or '' for the record itself. */
    readonly field: string,
    readonly problem: string,
  ) {
    const who = storageId === undefined ? `record ${index}` : `record ${index} (${storageId})`;
    super(`storinfo ${who}: ${field === '' ? 'record' : `field ${field}`} ${problem}`);
  }
}

/**
 * Validates one storinfo record and returns only the consumed fields (extra members such as
 * `statvfs` or `hostname` are dropped so snapshots stay small).
 */
export function parseStorinfoNode(raw: unknown, index: number): StorinfoNode {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InvalidStorinfoNodeError(index, undefined, '', 'is not a JSON object');
  }
  const rec = raw as Record<string, unknown>;
  const candidate: Record<string, unknown> = {
    availableMB: rec.availableMB,
    percentUsed: rec.percentUsed,
    filesystem: rec.filesystem,
    datacenter: rec.datacenter,
    manta_storage_id: rec.manta_storage_id,
    timestamp: rec.timestamp,
  };
  for (const [alias, field] of ALIASES) {
    if (candidate[field] === undefined && rec[alias] !== undefined) candidate[field] = rec[alias];
  }
  if (checkNode.Check(candidate)) return candidate;
  const storageId =
    typeof rec.manta_storage_id === 'string' && rec.manta_storage_id !== ''
      ? rec.manta_storage_id
      : undefined;
  const [first] = checkNode.Errors(candidate);
  const missing = Object.keys(StorinfoNodeSchema.properties).find(
    (k) => candidate[k] === undefined,
  );
  if (missing !== undefined)
    throw new InvalidStorinfoNodeError(index, storageId, missing, 'is missing');
  const field = first?.instancePath.replace(/^\//, '') ?? '';
  throw new InvalidStorinfoNodeError(
    index,
    storageId,
    field,
    `${first?.message ?? 'is invalid'} (got ${JSON.stringify(candidate[field] ?? null)})`,
  );
}
