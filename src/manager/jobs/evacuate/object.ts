/**
 * What the pipeline needs from a Manta record (protocols.md §4): copies, size, and the task an
 * agent gets; and the rewrite of `sharks` for the metadata update (manager.md §4.9).
 */
import { createHash } from 'node:crypto';
import { makeTask, type Task } from '../../../api/common.ts';
import type { StorageNodeRef } from '../../../api/manager.ts';
import { RebalancerError } from '../../../errors.ts';
import type { ObjectErrorDb } from '../../store/index.ts';

export interface ObjectFacts {
  owner: string;
  md5: string;
  sizeBytes: number;
  sharks: StorageNodeRef[];
  bucketId: string | undefined;
  name: string | undefined;
  key: string;
}

/** A record the pipeline cannot use; `error` is the object's stored error. */
export class BadObjectError extends RebalancerError {
  override readonly name = 'BadObjectError';
  readonly code = 'bad_object';
  constructor(
    readonly error: ObjectErrorDb,
    message: string,
  ) {
    super(message);
  }
}

function isRef(v: unknown): v is StorageNodeRef {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return typeof r.manta_storage_id === 'string' && typeof r.datacenter === 'string';
}

export function objectFacts(value: Record<string, unknown>): ObjectFacts {
  const { owner, contentMD5, contentLength, sharks, key } = value;
  if (typeof owner !== 'string' || owner === '')
    throw new BadObjectError('bad_manta_object', 'owner missing');
  if (typeof key !== 'string' || key === '')
    throw new BadObjectError('bad_manta_object', 'key missing');
  if (typeof contentMD5 !== 'string')
    throw new BadObjectError('bad_manta_object', 'contentMD5 missing');
  if (typeof contentLength !== 'number' || !Number.isInteger(contentLength) || contentLength < 0) {
    throw new BadObjectError(
      'bad_content_length',
      `contentLength ${JSON.stringify(contentLength)}`,
    );
  }
  if (!Array.isArray(sharks) || !sharks.every(isRef)) {
    throw new BadObjectError('missing_sharks', 'sharks missing or malformed');
  }
  return {
    owner,
    md5: contentMD5,
    sizeBytes: contentLength,
    sharks: sharks.map((s) => ({ manta_storage_id: s.manta_storage_id, datacenter: s.datacenter })),
    bucketId: typeof value.bucket_id === 'string' ? value.bucket_id : undefined,
    name: typeof value.name === 'string' ? value.name : undefined,
    key,
  };
}

/** The copy the agent downloads from: the first one not on the evacuated shark (§4.5). */
export function sourceCopy(facts: ObjectFacts, evacuated: string): StorageNodeRef | undefined {
  return facts.sharks.find((s) => s.manta_storage_id !== evacuated);
}

export function buildTask(objectId: string, facts: ObjectFacts, source: StorageNodeRef): Task {
  const v2 =
    facts.bucketId === undefined
      ? {}
      : {
          bucket_id: facts.bucketId,
          object_name_hash: createHash('md5')
            .update(facts.name ?? facts.key)
            .digest('hex'),
        };
  return makeTask({
    object_id: objectId,
    owner: facts.owner,
    md5sum: facts.md5,
    source,
    status: 'Pending',
    ...v2,
  });
}

/**
 * The record with the evacuated shark's entry replaced by the destination, at the same position,
 * every other member kept. Errors leave the object `error` (§13.1: never `complete`).
 */
export function rewriteSharks(
  value: Record<string, unknown>,
  evacuated: string,
  dest: StorageNodeRef,
): Record<string, unknown> {
  const sharks = value.sharks;
  if (!Array.isArray(sharks)) throw new BadObjectError('missing_sharks', 'sharks missing');
  if (!sharks.every(isRef)) throw new BadObjectError('bad_manta_object', 'sharks malformed');
  const at = sharks.flatMap((s, i) => (s.manta_storage_id === evacuated ? [i] : []));
  if (at.length > 1)
    throw new BadObjectError('duplicate_shark', `${evacuated} listed ${at.length} times`);
  if (at.length === 0)
    throw new BadObjectError('bad_manta_object', `${evacuated} not among sharks`);
  if (sharks.some((s) => s.manta_storage_id === dest.manta_storage_id)) {
    throw new BadObjectError('duplicate_shark', `${dest.manta_storage_id} already holds a copy`);
  }
  const next = sharks.map((s) => ({ ...s }));
  next[at[0]!] = { datacenter: dest.datacenter, manta_storage_id: dest.manta_storage_id };
  return { ...value, sharks: next };
}
