/**
 * Where an object's bytes live on a storage node (peers.md §2.2):
 *   v1: `/{owner}/{objectId}`
 *   v2: `/v2/{owner}/{bucketId}/{objectId[0..2]}/{objectId},{objectNameHash}`
 * Paths are relative to the object root (`/manta` in production) and double as the URL
 * path on the mako. Every component is validated, so a built path never leaves the root;
 * resolveUnderRoot() checks that again when turning it into a file name.
 */
import { isAbsolute, resolve, sep } from 'node:path';
import { InvalidMantaIdError, PathEscapesRootError } from './errors.ts';
import {
  assertBucketId,
  assertMantaId,
  assertObjectNameHash,
  type IdPolicy,
  isMantaId,
  isObjectNameHash,
  isUuid,
  type StorageIdOptions,
  storageIdBaseUrl,
} from './ids.ts';

export { InvalidMantaIdError, PathEscapesRootError };

/** Number of leading object-id characters used as the v2 prefix directory. */
export const V2_PREFIX_LEN = 2;

export interface PathOptions {
  /** Owner/object id strictness, default 'uuid' (see IdPolicy). */
  readonly idPolicy?: IdPolicy;
}

/** The v1 (directory API / Moray) object path: `/{owner}/{objectId}`. */
export function v1ObjectPath(owner: string, objectId: string, options: PathOptions = {}): string {
  const policy = options.idPolicy ?? 'uuid';
  assertMantaId('owner', owner, policy);
  assertMantaId('objectId', objectId, policy);
  return `/${owner}/${objectId}`;
}

/** The v2 (buckets) object path: `/v2/{owner}/{bucketId}/{pp}/{objectId},{objectNameHash}`. */
export function v2ObjectPath(
  owner: string,
  bucketId: string,
  objectId: string,
  objectNameHash: string,
  options: PathOptions = {},
): string {
  const policy = options.idPolicy ?? 'uuid';
  assertMantaId('owner', owner, policy);
  assertBucketId(bucketId);
  assertMantaId('objectId', objectId, policy);
  assertObjectNameHash(objectNameHash);
  const prefix = objectId.slice(0, V2_PREFIX_LEN);
  return `/v2/${owner}/${bucketId}/${prefix}/${objectId},${objectNameHash}`;
}

/** What identifies an object's file: v2 when both bucketId and objectNameHash are set. */
export interface ObjectLocation {
  readonly owner: string;
  readonly objectId: string;
  readonly bucketId?: string | undefined;
  readonly objectNameHash?: string | undefined;
}

/**
 * The object's path, v2 when both `bucketId` and `objectNameHash` are present, v1 otherwise
 * (the agent's rule, agent.md §3.2).
 */
export function objectPath(location: ObjectLocation, options: PathOptions = {}): string {
  const { owner, objectId, bucketId, objectNameHash } = location;
  if (bucketId !== undefined && objectNameHash !== undefined) {
    return v2ObjectPath(owner, bucketId, objectId, objectNameHash, options);
  }
  return v1ObjectPath(owner, objectId, options);
}

export type ParsedObjectPath =
  | { readonly kind: 'v1'; readonly owner: string; readonly objectId: string }
  | {
      readonly kind: 'v2';
      readonly owner: string;
      readonly bucketId: string;
      readonly objectId: string;
      readonly objectNameHash: string;
    };

/**
 * Parses a root-relative object path (e.g. a mako URL path, already percent-decoded) back
 * into its components; undefined when it is not a valid v1 or v2 object path.
 */
export function parseObjectPath(
  path: string,
  options: PathOptions = {},
): ParsedObjectPath | undefined {
  const policy = options.idPolicy ?? 'uuid';
  const parts = path.split('/');
  if (parts[0] !== '') return undefined;
  if (parts.length === 3) {
    const [, owner, objectId] = parts;
    if (isMantaId(owner, policy) && isMantaId(objectId, policy)) {
      return { kind: 'v1', owner, objectId };
    }
    return undefined;
  }
  if (parts.length === 6 && parts[1] === 'v2') {
    const [, , owner, bucketId, prefix, leaf] = parts;
    if (leaf === undefined) return undefined;
    const comma = leaf.lastIndexOf(',');
    if (comma < 0) return undefined;
    const objectId = leaf.slice(0, comma);
    const objectNameHash = leaf.slice(comma + 1);
    if (
      isMantaId(owner, policy) &&
      isUuid(bucketId) &&
      isMantaId(objectId, policy) &&
      isObjectNameHash(objectNameHash) &&
      prefix === objectId.slice(0, V2_PREFIX_LEN)
    ) {
      return { kind: 'v2', owner, bucketId, objectId, objectNameHash };
    }
  }
  return undefined;
}

/**
 * Resolves a root-relative path under `root` and returns the absolute file name, throwing
 * PathEscapesRootError unless the result is strictly inside the root. Lexical check: it
 * does not follow symlinks (the object root is ours; nobody else plants links in it).
 */
export function resolveUnderRoot(root: string, relativePath: string): string {
  if (relativePath.includes('\0') || root.includes('\0')) {
    throw new PathEscapesRootError(root, relativePath);
  }
  const absRoot = resolve(root);
  // Treat an absolute-looking relative path as relative to the root, never to '/'.
  const rel = isAbsolute(relativePath) ? `.${relativePath}` : relativePath;
  const full = resolve(absRoot, rel);
  const rootWithSep = absRoot.endsWith(sep) ? absRoot : absRoot + sep;
  if (!full.startsWith(rootWithSep) || full.length <= rootWithSep.length) {
    throw new PathEscapesRootError(root, relativePath);
  }
  return full;
}

/** The absolute file name of an object under `root` (build + resolve in one step). */
export function objectFilePath(
  root: string,
  location: ObjectLocation,
  options: PathOptions = {},
): string {
  return resolveUnderRoot(root, objectPath(location, options));
}

/**
 * The mako URL of an object on a storage node: the storage id is the URL authority
 * (validated, so it cannot inject another host or path), `path` a path built above.
 */
export function objectUrl(storageId: string, path: string, options: StorageIdOptions = {}): string {
  return `${storageIdBaseUrl(storageId, options)}${path}`;
}
