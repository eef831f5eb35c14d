/**
 * What one object on the audited shark is: `safe` when another copy it names exists on its
 * shark (one proven copy suffices), else why not — no other copy, the others missing or
 * wrong, or not every other could be asked (never safe without proof).
 */
import type { UnsafeReason } from '../../api/audit.ts';
import { type MantaObjectValue, objectNameHash, objectPath } from '../../manta/index.ts';
import type { CopyChecker, CopyState } from './copy-check.ts';

interface ClassifyContext {
  /** The audited storage id. */
  shark: string;
  deep: boolean;
  copies: CopyChecker;
  signal: AbortSignal;
}

/**
 * The object's path on a mako, as the agent names a task's source: v2 for a buckets record
 * (`bucket_id` and the hash of its name), v1 otherwise. Undefined when its ids cannot make a
 * path (no mako could be asked for it).
 */
export function copyPath(value: MantaObjectValue): string | undefined {
  try {
    return objectPath({
      owner: value.owner,
      objectId: value.objectId,
      ...(value.bucket_id === undefined
        ? {}
        : { bucketId: value.bucket_id, objectNameHash: objectNameHash(value.name ?? value.key) }),
    });
  } catch {
    return undefined;
  }
}

export async function classify(
  value: MantaObjectValue,
  ctx: ClassifyContext,
): Promise<'safe' | UnsafeReason> {
  const others = [
    ...new Set(value.sharks.map((s) => s.manta_storage_id).filter((id) => id !== ctx.shark)),
  ];
  if (others.length === 0) return 'only_copy';
  const path = copyPath(value);
  if (path === undefined) return 'other_copies_unverified';
  const states: CopyState[] = [];
  for (const storageId of others) {
    const state = await ctx.copies.check(
      {
        storageId,
        path,
        contentLength: value.contentLength,
        contentMD5: value.contentMD5,
      },
      ctx.deep,
      ctx.signal,
    );
    if (state === 'present') return 'safe';
    states.push(state);
  }
  return states.includes('unverified') ? 'other_copies_unverified' : 'other_copies_missing';
}
