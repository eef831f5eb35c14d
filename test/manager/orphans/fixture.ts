/**
 * Fixtures of the orphan tests: a shark's object root served by a real agent (with a token),
 * files of known age on it, and discovery events as a metadata scan would yield them.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { DiscoveryEvent } from '../../../src/discovery/index.ts';
import type { MantaObjectValue } from '../../../src/manta/index.ts';
import { objectPath } from '../../../src/manta/index.ts';

export const SHARK = '1.stor.orphans.test';

/** Writes a file of `size` bytes at a root-relative path, modified `ageSeconds` ago. */
export async function putFile(
  root: string,
  path: string,
  size: number,
  ageSeconds: number,
): Promise<void> {
  const file = join(root, path);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, Buffer.alloc(size, 7));
  const at = new Date(Date.now() - ageSeconds * 1000);
  await utimes(file, at, at);
}

function value(owner: string, objectId: string, extra: Record<string, unknown> = {}) {
  return {
    key: `/${owner}/stor/${randomUUID()}`,
    owner,
    type: 'object',
    objectId,
    contentLength: 1,
    contentMD5: '',
    sharks: [{ datacenter: 'dc1', manta_storage_id: SHARK }],
    ...extra,
  } as MantaObjectValue;
}

/** A v1 record naming the shark; `creator` when the creating account differs. */
export function v1Record(owner: string, objectId: string, creator?: string): DiscoveryEvent {
  const v = value(owner, objectId, creator === undefined ? {} : { creator });
  return {
    kind: 'object',
    shard: 1,
    key: v.key,
    etag: 'e',
    id: objectId,
    value: v,
    shark: SHARK,
    rowId: '1',
  };
}

/** A v2 record naming the shark, and its file's path. */
export function v2Record(owner: string, bucketId: string, objectId: string, name: string) {
  const v = value(owner, objectId, { name, key: name, bucket_id: bucketId });
  const event: DiscoveryEvent = {
    kind: 'object',
    tier: 'buckets',
    shard: 1,
    vnode: 0,
    key: name,
    etag: objectId,
    id: objectId,
    value: v,
    shark: SHARK,
    rowId: `0/${owner}/${bucketId}/${name}`,
  };
  const hash = createHash('md5').update(name).digest('hex');
  return { event, path: objectPath({ owner, objectId, bucketId, objectNameHash: hash }) };
}

export function malformed(): DiscoveryEvent {
  return {
    kind: 'malformed',
    shard: 2,
    key: '/x/stor/y',
    rowId: '9',
    problem: 'field _value is not JSON',
  };
}

/** A scan yielding `events`, each after `delayMs`. */
export async function* scan(
  events: readonly DiscoveryEvent[],
  delayMs = 0,
): AsyncGenerator<DiscoveryEvent> {
  for (const e of events) {
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    yield e;
  }
}
