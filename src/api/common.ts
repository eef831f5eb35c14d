/**
 * Wire types shared by the manager and the agent, in the legacy (L) JSON encoding
 * (agent.md §3): serde's external tagging, so a legacy manager can drive our agent and
 * our manager can drive a legacy agent. Decoders also accept the Dropshot (D) encodings.
 */
import { type Static, Type } from 'typebox';

/**
 * A storage node ("shark"), `MantaObjectShark` / `StorageNode` (agent.md §3.1): the one
 * storage-node type of the project. A task's source on the agent wire (exactly these keys),
 * a job's evacuated shark, a destination, and (extra members kept) an entry of a Manta
 * record's `sharks`.
 */
export const StorageNode = Type.Object(
  {
    datacenter: Type.String(),
    manta_storage_id: Type.String(),
  },
  { title: 'StorageNode', additionalProperties: false },
);
export type StorageNode = Static<typeof StorageNode>;

/** Every unit variant of `ObjectSkippedReason`, in L's declaration order (agent.md §3.4). */
export const UNIT_SKIPPED_REASONS = [
  'AgentFSError',
  'AgentAssignmentNoEnt',
  'AgentBusy',
  'AssignmentError',
  'AssignmentMismatch',
  'AssignmentRejected',
  'DestinationInsufficientSpace',
  'DestinationUnreachable',
  'MD5Mismatch',
  'NetworkError',
  'ObjectAlreadyOnDestShark',
  'ObjectAlreadyInDatacenter',
  'SourceOtherError',
  'SourceObjectNotFound',
  'SourceIsEvacShark',
  'MpuPartNoData',
  'AgentAssignmentTimeout',
] as const;
export type UnitSkippedReason = (typeof UNIT_SKIPPED_REASONS)[number];

export const HttpStatusCodeReason = Type.Object(
  { HTTPStatusCode: Type.Integer({ minimum: 0, maximum: 65535 }) },
  { additionalProperties: false },
);

/** L JSON: a unit variant is its name as a string; `HTTPStatusCode(n)` is `{"HTTPStatusCode":n}`. */
export const ObjectSkippedReason = Type.Union(
  [Type.Enum([...UNIT_SKIPPED_REASONS]), HttpStatusCodeReason],
  { title: 'ObjectSkippedReason' },
);
export type ObjectSkippedReason = UnitSkippedReason | { HTTPStatusCode: number };

/** L JSON: `"Pending"`, `"Complete"`, `{"Failed": <reason>}` (there is no Running task state). */
export const TaskStatus = Type.Union(
  [
    Type.Literal('Pending'),
    Type.Literal('Complete'),
    Type.Object({ Failed: ObjectSkippedReason }, { additionalProperties: false }),
  ],
  { title: 'TaskStatus' },
);
export type TaskStatus = 'Pending' | 'Complete' | { Failed: ObjectSkippedReason };

/** D's adjacently tagged TaskStatus, accepted on input only (agent.md §3.3). */
const strict = { additionalProperties: false } as const;
export const DropshotTaskStatus = Type.Union([
  Type.Object({ state: Type.Literal('Pending') }, strict),
  Type.Object({ state: Type.Literal('Complete') }, strict),
  Type.Object(
    {
      state: Type.Literal('Failed'),
      reason: Type.Union([
        Type.Object({ type: Type.Enum([...UNIT_SKIPPED_REASONS]) }, strict),
        Type.Object(
          {
            type: Type.Literal('HTTPStatusCode'),
            status_code: Type.Integer({ minimum: 0, maximum: 65535 }),
          },
          strict,
        ),
      ]),
    },
    strict,
  ),
]);

const taskFields = {
  object_id: Type.String(),
  owner: Type.String(),
  md5sum: Type.String({ description: 'base64 of the 16-byte MD5 digest (Manta contentMD5)' }),
  source: StorageNode,
};
const v2Fields = {
  bucket_id: Type.Optional(Type.String({ description: 'v2 (buckets) objects only' })),
  object_name_hash: Type.Optional(
    Type.String({ description: 'v2 only: lower-case hex MD5 of the object name' }),
  ),
};

/** A task as emitted (field order as L serialises it; v2 fields left out when absent). */
export const Task = Type.Object(
  { ...taskFields, status: TaskStatus, ...v2Fields },
  { title: 'Task' },
);
export interface Task {
  object_id: string;
  owner: string;
  md5sum: string;
  source: StorageNode;
  status: TaskStatus;
  bucket_id?: string;
  object_name_hash?: string;
}

/**
 * A task as accepted: `status` optional (default Pending), in L or D encoding. Exactly the
 * keys L's manager sends; any other key is refused (400 naming it), not ignored.
 */
export const TaskInput = Type.Object(
  {
    ...taskFields,
    status: Type.Optional(Type.Union([TaskStatus, DropshotTaskStatus])),
    ...v2Fields,
  },
  { title: 'TaskInput', additionalProperties: false },
);

const SNAKE: Record<UnitSkippedReason, string> = {
  AgentFSError: 'agent_fs_error',
  AgentAssignmentNoEnt: 'agent_assignment_no_ent',
  AgentBusy: 'agent_busy',
  AssignmentError: 'assignment_error',
  AssignmentMismatch: 'assignment_mismatch',
  AssignmentRejected: 'assignment_rejected',
  DestinationInsufficientSpace: 'destination_insufficient_space',
  DestinationUnreachable: 'destination_unreachable',
  MD5Mismatch: 'md5_mismatch',
  NetworkError: 'network_error',
  ObjectAlreadyOnDestShark: 'object_already_on_dest_shark',
  ObjectAlreadyInDatacenter: 'object_already_in_datacenter',
  SourceOtherError: 'source_other_error',
  SourceObjectNotFound: 'source_object_not_found',
  SourceIsEvacShark: 'source_is_evac_shark',
  MpuPartNoData: 'mpu_part_no_data',
  AgentAssignmentTimeout: 'agent_assignment_timeout',
};
const FROM_SNAKE = new Map<string, UnitSkippedReason>(
  Object.entries(SNAKE).map(([k, v]) => [v, k as UnitSkippedReason]),
);
const UNIT_SET: ReadonlySet<string> = new Set(UNIT_SKIPPED_REASONS);

export function isUnitSkippedReason(value: unknown): value is UnitSkippedReason {
  return typeof value === 'string' && UNIT_SET.has(value);
}

function isStatusCode(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 65535;
}

/** The snake_case display name (metric labels, job reports); `http_status_code` for HTTP codes. */
export function reasonSnake(reason: ObjectSkippedReason): string {
  return typeof reason === 'string' ? SNAKE[reason] : 'http_status_code';
}

/** The manager's database form: the snake name, or `{http_status_code:N}` (agent.md §3.4). */
export function reasonDbForm(reason: ObjectSkippedReason): string {
  return typeof reason === 'string' ? SNAKE[reason] : `{http_status_code:${reason.HTTPStatusCode}}`;
}

/** Parses the database form back; undefined when it is not one. */
export function parseReasonDbForm(text: string): ObjectSkippedReason | undefined {
  const braced = /^\{([a-z_]+):([0-9]{1,5})\}$/.exec(text);
  if (braced) {
    const code = Number(braced[2]);
    return braced[1] === 'http_status_code' && isStatusCode(code)
      ? { HTTPStatusCode: code }
      : undefined;
  }
  return FROM_SNAKE.get(text);
}

/** Decodes a reason in L (`"MD5Mismatch"`, `{"HTTPStatusCode":n}`) or D (`{"type":...}`) form. */
export function decodeReason(value: unknown): ObjectSkippedReason | undefined {
  if (isUnitSkippedReason(value)) return value;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  if (keys.length === 1 && keys[0] === 'HTTPStatusCode') {
    return isStatusCode(record.HTTPStatusCode)
      ? { HTTPStatusCode: record.HTTPStatusCode }
      : undefined;
  }
  if (record.type === 'HTTPStatusCode') {
    return isStatusCode(record.status_code) ? { HTTPStatusCode: record.status_code } : undefined;
  }
  if (isUnitSkippedReason(record.type)) return record.type;
  return undefined;
}

/** Decodes a task status in L or D encoding; undefined when it is neither. */
export function decodeTaskStatus(value: unknown): TaskStatus | undefined {
  if (value === 'Pending' || value === 'Complete') return value;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const record = value as Record<string, unknown>;
  if ('Failed' in record && Object.keys(record).length === 1) {
    const reason = decodeReason(record.Failed);
    return reason === undefined ? undefined : { Failed: reason };
  }
  if (record.state === 'Pending' || record.state === 'Complete') return record.state;
  if (record.state === 'Failed') {
    const reason = decodeReason(record.reason);
    return reason === undefined ? undefined : { Failed: reason };
  }
  return undefined;
}

/** Builds a task in L's field order, leaving absent v2 fields out (as serde's skip does). */
export function makeTask(fields: {
  object_id: string;
  owner: string;
  md5sum: string;
  source: StorageNode;
  status: TaskStatus;
  bucket_id?: string | undefined;
  object_name_hash?: string | undefined;
}): Task {
  const task: Task = {
    object_id: fields.object_id,
    owner: fields.owner,
    md5sum: fields.md5sum,
    source: {
      datacenter: fields.source.datacenter,
      manta_storage_id: fields.source.manta_storage_id,
    },
    status: fields.status,
  };
  if (fields.bucket_id !== undefined) task.bucket_id = fields.bucket_id;
  if (fields.object_name_hash !== undefined) task.object_name_hash = fields.object_name_hash;
  return task;
}
