/**
 * What the pipeline needs from a Manta record (protocols.md §4): copies, size, and the task an
 * agent gets; and the rewrite of `sharks` for the metadata update (manager.md §4.9).
 */
import { createHash } from 'node:crypto';
import { makeTask, type StorageNode, type Task } from '../../../api/common.ts';
import { RebalancerError } from '../../../errors.ts';
import type { MantaObjectValue } from '../../../manta/index.ts';
import type { ObjectErrorDb } from '../../store/index.ts';

export interface ObjectFacts {
  owner: string;
  md5: string;
  sizeBytes: number;
  sharks: StorageNode[];
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

export function objectFacts(value: MantaObjectValue): ObjectFacts {
  return {
    owner: value.owner,
    md5: value.contentMD5,
    sizeBytes: value.contentLength,
    sharks: value.sharks.map((s) => ({
      manta_storage_id: s.manta_storage_id,
      datacenter: s.datacenter,
    })),
    bucketId: value.bucket_id,
    name: value.name,
    key: value.key,
  };
}

/**
 * The copy the agent downloads from: the first one not on the evacuated shark (§4.5); with none,
 * the evacuated shark itself when `fromEvacuated` (it still serves reads), else none (L's
 * `source_is_evac_shark`).
 */
export function sourceCopy(
  facts: ObjectFacts,
  evacuated: string,
  options: { fromEvacuated: boolean },
): StorageNode | undefined {
  const other = facts.sharks.find((s) => s.manta_storage_id !== evacuated);
  if (other !== undefined || !options.fromEvacuated) return other;
  return facts.sharks.find((s) => s.manta_storage_id === evacuated);
}

export function buildTask(objectId: string, facts: ObjectFacts, source: StorageNode): Task {
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
  value: MantaObjectValue,
  evacuated: string,
  dest: StorageNode,
): MantaObjectValue {
  const { sharks } = value;
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
