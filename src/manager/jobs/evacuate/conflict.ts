/**
 * What an etag conflict on a metadata update means, from the live record (DESIGN invariants 3
 * and 7). Only the object's identity decides whether our verified copy still belongs to it:
 * the same objectId, owner, MD5 and size. A record whose identity changed was written by a user
 * and is never overwritten; one whose identity is the same but whose copies moved (another job
 * evacuating another of its sharks) gets our rewrite applied to it as it is now, with its etag.
 * A buckets (v2) record's identity is its id (its etag): a user's overwrite gives it a new one.
 */
import type { StorageNode } from '../../../api/common.ts';
import type { MantaObjectValue } from '../../../manta/index.ts';
import { BadObjectError, rewriteSharks } from './object.ts';
import type { LiveRecord, UnusableRecord } from './types.ts';

export type ConflictResolution =
  /** The live record already is our rewrite (our own write from before a restart). */
  | { kind: 'ours' }
  /** Same object, copies moved by someone else: write this value under this etag instead. */
  | { kind: 'rewrite'; value: MantaObjectValue; etag: string; previous: MantaObjectValue }
  /** Same object, no longer on the evacuated shark: nothing left to do here. */
  | { kind: 'moved' }
  /** Same object, but another writer put a copy on our destination: place it elsewhere. */
  | { kind: 'collision'; live: LiveRecord }
  /** A user wrote the object (a new objectId, other bytes, no object record): never overwritten. */
  | { kind: 'changed' };

const IDENTITY = ['objectId', 'owner', 'contentMD5', 'contentLength'] as const;

function storageIds(value: MantaObjectValue): string {
  return value.sharks.map((s) => s.manta_storage_id).join('\n');
}

export function resolveConflict(
  live: LiveRecord | UnusableRecord,
  discovered: MantaObjectValue,
  ours: MantaObjectValue,
  evacuated: string,
  dest: StorageNode,
): ConflictResolution {
  // No object record any more (malformed, a directory now): not ours, so a user's write.
  if ('problem' in live) return { kind: 'changed' };
  if (!IDENTITY.every((k) => live.value[k] === discovered[k])) return { kind: 'changed' };
  if (storageIds(live.value) === storageIds(ours)) return { kind: 'ours' };
  if (!live.value.sharks.some((s) => s.manta_storage_id === evacuated)) return { kind: 'moved' };
  try {
    return {
      kind: 'rewrite',
      value: rewriteSharks(live.value, evacuated, dest),
      etag: live.etag,
      previous: live.value,
    };
  } catch (err) {
    // The destination now holds a copy already (the other job chose it too).
    if (err instanceof BadObjectError) return { kind: 'collision', live };
    throw err;
  }
}
