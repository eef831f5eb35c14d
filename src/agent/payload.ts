/**
 * Decodes and validates a `POST /assignments` body (object or positional form, L or D task
 * status encoding) before anything is stored: ids, MD5s and storage ids are checked, every
 * source must be a storage node the agent may fetch from, and every destination path is
 * built and confirmed to stay inside the object root (agent.md §10–§11). Keys are exactly
 * those L's manager sends; an unknown one is refused rather than ignored. The first problem
 * found is reported with the field it concerns.
 */
import { decodeTaskStatus, makeTask, type Task } from '../api/common.ts';
import { RebalancerError } from '../errors.ts';
import {
  type HostAliases,
  type IdPolicy,
  isContentMd5,
  isMantaId,
  isObjectNameHash,
  isUuid,
  objectFilePath,
  parseStorageId,
} from '../manta/index.ts';

/** Which sources a task may name (agent.md §10.4: the id becomes the URL authority). */
export interface SourceRules {
  /** Sources `N.stor.<mantaDomain>` (no port) are accepted; unset: none are. */
  readonly mantaDomain?: string | undefined;
  /** Storage ids these aliases name (`name:port`, port 80 implied) are accepted as they are. */
  readonly hostAliases?: HostAliases | undefined;
  /** Test deployments: also accept any `host:port` (`127.0.0.1:8080`, `1.stor.x:8080`). */
  readonly allowHostPortSources: boolean;
}

export interface PayloadRules extends SourceRules {
  readonly objectRoot: string;
  readonly idPolicy: IdPolicy;
  readonly maxTasks: number;
}

/** The keys L's manager sends ([L-common] Task, [L-shark] MantaObjectShark; agent.md §3). */
const PAYLOAD_KEYS = new Set(['id', 'tasks']);
const TASK_KEYS = new Set([
  'object_id',
  'owner',
  'md5sum',
  'source',
  'status',
  'bucket_id',
  'object_name_hash',
]);
const SOURCE_KEYS = new Set(['datacenter', 'manta_storage_id']);
/** D's adjacently tagged status and reason (agent.md §3.3); L's forms have one key each. */
const D_STATUS_KEYS = new Set(['state', 'reason']);
const D_REASON_KEYS = new Set(['type', 'status_code']);

export interface ValidPayload {
  /** Canonical (lower-case hyphenated) assignment id. */
  readonly id: string;
  readonly taskCount: number;
  /**
   * The tasks, decoded on demand with status reset to Pending (a client-supplied status has
   * no effect). Decoding is repeated rather than kept, so a large assignment is not held
   * twice in memory; every task was already validated.
   */
  tasks(): Iterable<Task>;
}

/** Why a payload was refused: `tooLarge` maps to 413, everything else to 400. */
export class PayloadError extends RebalancerError {
  override readonly name = 'PayloadError';
  readonly code = 'invalid_payload';
  constructor(
    readonly field: string,
    message: string,
    readonly tooLarge = false,
  ) {
    super(`${field}: ${message}`);
  }
}

const SIMPLE_UUID_RE = /^[0-9a-fA-F]{32}$/;

/** Lower-case hyphenated form of a hyphenated or 32-hex UUID; undefined otherwise. */
export function canonicalUuid(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  if (SIMPLE_UUID_RE.test(value)) {
    const v = value.toLowerCase();
    return `${v.slice(0, 8)}-${v.slice(8, 12)}-${v.slice(12, 16)}-${v.slice(16, 20)}-${v.slice(20)}`;
  }
  return isUuid(value) ? value.toLowerCase() : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** serde's Option accepts both an absent field and `null`. */
function optionalString(
  record: Record<string, unknown>,
  key: string,
  field: string,
): string | undefined {
  const value = record[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new PayloadError(field, 'must be a string');
  return value;
}

function rejectUnknownKeys(record: Record<string, unknown>, allowed: Set<string>, at: string) {
  for (const key of Object.keys(record)) {
    if (!allowed.has(key)) {
      const field = at === '' ? key : `${at}.${key}`;
      throw new PayloadError(field, `unknown key ${JSON.stringify(key)}`);
    }
  }
}

function checkStatusKeys(status: unknown, at: string): void {
  if (!isRecord(status) || !('state' in status)) return;
  rejectUnknownKeys(status, D_STATUS_KEYS, at);
  if (isRecord(status.reason)) rejectUnknownKeys(status.reason, D_REASON_KEYS, `${at}.reason`);
}

/** Why the agent must not fetch from `storageId`; undefined when it may. */
export function sourceProblem(storageId: string, rules: SourceRules): string | undefined {
  const quoted = JSON.stringify(storageId);
  const parts = parseStorageId(storageId, { allowHostPort: rules.allowHostPortSources });
  if (parts === undefined) {
    return rules.allowHostPortSources
      ? `${quoted} is not a storage node id (N.stor.domain[:port]) nor host:port`
      : `${quoted} is not a storage node id (N.stor.domain)`;
  }
  if (rules.hostAliases?.has(`${parts.host}:${parts.port ?? 80}`.toLowerCase())) return undefined;
  const domain = rules.mantaDomain?.toLowerCase();
  const suffix = /^[0-9]+\.stor\.(.+)$/.exec(parts.host.toLowerCase())?.[1];
  if (parts.port === undefined && domain !== undefined && suffix === domain) return undefined;
  if (parts.port !== undefined && rules.allowHostPortSources) return undefined;
  return domain === undefined
    ? `${quoted} is not a source this agent may fetch from: no Manta domain is configured (server.domain_name) and no host alias names it`
    : `${quoted} is not a storage node of the Manta domain ${domain} (N.stor.${domain}, no port) nor one a host alias names`;
}

function requiredString(record: Record<string, unknown>, key: string, field: string): string {
  const value = record[key];
  if (typeof value !== 'string') throw new PayloadError(field, 'is required and must be a string');
  return value;
}

function decodeTask(value: unknown, index: number, rules: PayloadRules): Task {
  const at = `tasks[${index}]`;
  if (!isRecord(value)) throw new PayloadError(at, 'must be an object');
  rejectUnknownKeys(value, TASK_KEYS, at);
  const objectId = requiredString(value, 'object_id', `${at}.object_id`);
  const owner = requiredString(value, 'owner', `${at}.owner`);
  const md5sum = requiredString(value, 'md5sum', `${at}.md5sum`);
  const source = value.source;
  if (!isRecord(source))
    throw new PayloadError(`${at}.source`, 'is required and must be an object');
  rejectUnknownKeys(source, SOURCE_KEYS, `${at}.source`);
  const datacenter = requiredString(source, 'datacenter', `${at}.source.datacenter`);
  const storageId = requiredString(source, 'manta_storage_id', `${at}.source.manta_storage_id`);
  const bucketId = optionalString(value, 'bucket_id', `${at}.bucket_id`);
  const nameHash = optionalString(value, 'object_name_hash', `${at}.object_name_hash`);
  checkStatusKeys(value.status, `${at}.status`);
  if (value.status !== undefined && decodeTaskStatus(value.status) === undefined) {
    throw new PayloadError(`${at}.status`, 'is not a TaskStatus');
  }
  const idRule = rules.idPolicy === 'uuid' ? 'a UUID' : 'a safe identifier';
  if (!isMantaId(owner, rules.idPolicy)) throw new PayloadError(`${at}.owner`, `must be ${idRule}`);
  if (!isMantaId(objectId, rules.idPolicy)) {
    throw new PayloadError(`${at}.object_id`, `must be ${idRule}`);
  }
  if (!isContentMd5(md5sum)) {
    throw new PayloadError(`${at}.md5sum`, 'must be the base64 MD5 digest (24 characters)');
  }
  const badSource = sourceProblem(storageId, rules);
  if (badSource !== undefined) {
    throw new PayloadError(
      `${at}.source.manta_storage_id`,
      `${badSource} (task of object ${objectId})`,
    );
  }
  if ((bucketId === undefined) !== (nameHash === undefined)) {
    throw new PayloadError(
      bucketId === undefined ? `${at}.bucket_id` : `${at}.object_name_hash`,
      'bucket_id and object_name_hash must be given together (v2 objects)',
    );
  }
  if (bucketId !== undefined && !isUuid(bucketId)) {
    throw new PayloadError(`${at}.bucket_id`, 'must be a UUID');
  }
  if (nameHash !== undefined && !isObjectNameHash(nameHash)) {
    throw new PayloadError(`${at}.object_name_hash`, 'must be 32 lower-case hex characters');
  }
  try {
    objectFilePath(
      rules.objectRoot,
      { owner, objectId, bucketId, objectNameHash: nameHash },
      { idPolicy: rules.idPolicy },
    );
  } catch (err) {
    throw new PayloadError(at, `has no valid destination path: ${(err as Error).message}`);
  }
  return makeTask({
    object_id: objectId,
    owner,
    md5sum,
    source: { datacenter, manta_storage_id: storageId },
    status: 'Pending',
    bucket_id: bucketId,
    object_name_hash: nameHash,
  });
}

/** Validates a parsed JSON body; throws PayloadError naming the first bad field. */
export function decodeAssignmentPayload(body: unknown, rules: PayloadRules): ValidPayload {
  let rawId: unknown;
  let rawTasks: unknown;
  if (Array.isArray(body)) {
    if (body.length !== 2) throw new PayloadError('body', 'positional form must be [id, tasks]');
    [rawId, rawTasks] = body;
  } else if (isRecord(body)) {
    rejectUnknownKeys(body, PAYLOAD_KEYS, '');
    rawId = body.id;
    rawTasks = body.tasks;
  } else {
    throw new PayloadError('body', 'must be an AssignmentPayload object or [id, tasks]');
  }
  const id = canonicalUuid(rawId);
  if (id === undefined) throw new PayloadError('id', 'must be a UUID');
  if (!Array.isArray(rawTasks)) throw new PayloadError('tasks', 'is required and must be an array');
  if (rawTasks.length > rules.maxTasks) {
    throw new PayloadError('tasks', `more than ${rules.maxTasks} tasks in one assignment`, true);
  }
  const seen = new Set<string>();
  for (let i = 0; i < rawTasks.length; i++) {
    const task = decodeTask(rawTasks[i], i, rules);
    // The manager matches failures on object_id, so it must be unique in an assignment.
    if (seen.has(task.object_id)) {
      throw new PayloadError(`tasks[${i}].object_id`, 'duplicate object_id in this assignment');
    }
    seen.add(task.object_id);
  }
  const list = rawTasks;
  return {
    id,
    taskCount: list.length,
    *tasks() {
      for (let i = 0; i < list.length; i++) yield decodeTask(list[i], i, rules);
    },
  };
}
