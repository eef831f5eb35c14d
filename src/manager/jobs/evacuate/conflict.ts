/**
 * What an etag conflict on a metadata update means, from the live record (DESIGN invariants 3
 * and 7). Only the object's identity decides whether our verified copy still belongs to it:
 * the same objectId, owner, MD5 and size. A record whose identity changed was written by a user
 * and is never overwritten; one whose identity is the same but whose copies moved (another job
 * evacuating another of its sharks) gets our rewrite applied to it as it is now, with its etag.
 */
import type { StorageNodeRef } from '../../../api/manager.ts';
import { BadObjectError, rewriteSharks } from './object.ts';
import type { LiveRecord } from './types.ts';

export type ConflictResolution =
  /** The live record already is our rewrite (our own write from before a restart). */
  | { kind: 'ours' }
  /** Same object, copies moved by someone else: write this value under this etag instead. */
  | { kind: 'rewrite'; value: Record<string, unknown>; etag: string }
  /** Same object, no longer on the evacuated shark: nothing left to do here. */
  | { kind: 'moved' }
  /** Same object, but another writer put a copy on our destination: place it elsewhere. */
  | { kind: 'collision' }
  /** A user wrote the object (a new objectId, other bytes): never overwritten. */
  | { kind: 'changed' };

const IDENTITY = ['objectId', 'owner', 'contentMD5', 'contentLength'] as const;

function storageIds(value: Record<string, unknown>): string[] | undefined {
  const sharks = value.sharks;
  if (!Array.isArray(sharks)) return undefined;
  const ids: string[] = [];
  for (const s of sharks) {
    const id = (s as { manta_storage_id?: unknown } | null)?.manta_storage_id;
    if (typeof id !== 'string') return undefined;
    ids.push(id);
  }
  return ids;
}

function sameCopies(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const x = storageIds(a);
  const y = storageIds(b);
  return x !== undefined && y !== undefined && x.join('\n') === y.join('\n');
}

export function resolveConflict(
  live: LiveRecord,
  discovered: Record<string, unknown>,
  ours: Record<string, unknown>,
  evacuated: string,
  dest: StorageNodeRef,
): ConflictResolution {
  if (!IDENTITY.every((k) => live.value[k] === discovered[k])) return { kind: 'changed' };
  if (sameCopies(live.value, ours)) return { kind: 'ours' };
  const ids = storageIds(live.value);
  if (ids === undefined) return { kind: 'changed' };
  if (!ids.includes(evacuated)) return { kind: 'moved' };
  try {
    return { kind: 'rewrite', value: rewriteSharks(live.value, evacuated, dest), etag: live.etag };
  } catch (err) {
    // The destination now holds a copy already (the other job chose it too).
    if (err instanceof BadObjectError) return { kind: 'collision' };
    throw err;
  }
}
