/**
 * Buckets (v2) objects as the domain sees them (peers.md §3): where buckets-api places an
 * object (its vnode), the `"<datacenter>:<storage id>"` form buckets-postgres keeps a copy
 * in, and the two shapes of one object record — buckets-mdapi's ObjectResponse and the
 * Moray-shaped value the rebalancer carries through a job.
 */
import { createHash } from 'node:crypto';
import type { StorageNode } from '../api/common.ts';
import { RebalancerError } from '../errors.ts';
import { InvalidMantaIdError } from './errors.ts';
import { isUuid } from './ids.ts';
import { objectNameHash } from './md5.ts';
import type { MantaObjectValue } from './object.ts';

/** The largest SHA-256 value: the ring's hash space is [0, SHA256_MAX]. */
const SHA256_MAX = (1n << 256n) - 1n;

/**
 * The ring's VNODE_HASH_INTERVAL for `vnodeCount` vnodes: the hash space divided evenly
 * (integer division), as buckets-mdplacement's ring computes it.
 */
export function vnodeHashInterval(vnodeCount: number): bigint {
  if (!Number.isSafeInteger(vnodeCount) || vnodeCount < 1) {
    throw new RangeError(`a ring has a positive whole number of vnodes: ${vnodeCount}`);
  }
  return SHA256_MAX / BigInt(vnodeCount);
}

function vnodeOfKey(tkey: string, vnodeCount: number): number {
  const hash = BigInt(`0x${createHash('sha256').update(tkey).digest('hex')}`);
  return Number(hash / vnodeHashInterval(vnodeCount));
}

/**
 * The vnode buckets-api stores an object's row in: SHA-256 of
 * `owner:bucket_id:md5hex(name)` divided by the ring's interval (peers.md §3.1). The bucket
 * is named by its id, not its name.
 */
export function objectVnode(
  owner: string,
  bucketId: string,
  name: string,
  vnodeCount: number,
): number {
  return vnodeOfKey(`${owner}:${bucketId}:${objectNameHash(name)}`, vnodeCount);
}

/** The vnode of a bucket's own row: SHA-256 of `owner:bucket_name` over the interval. */
export function bucketVnode(owner: string, bucketName: string, vnodeCount: number): number {
  return vnodeOfKey(`${owner}:${bucketName}`, vnodeCount);
}

/** A copy as a `sharks text[]` element: `"<datacenter>:<manta_storage_id>"`. */
export function storageNodeToText(node: StorageNode): string {
  // The element is split at its first ':', so only the storage id may contain one.
  if (node.datacenter.includes(':')) {
    throw new InvalidMantaIdError('datacenter', node.datacenter, 'contains ":"');
  }
  return `${node.datacenter}:${node.manta_storage_id}`;
}

/** A `sharks text[]` element back as a copy, split at its first ':'. */
export function storageNodeFromText(text: string): StorageNode {
  const at = text.indexOf(':');
  if (at < 0) {
    throw new InvalidMantaIdError('shark', text, 'not "<datacenter>:<manta_storage_id>"');
  }
  return { datacenter: text.slice(0, at), manta_storage_id: text.slice(at + 1) };
}

/** The members of buckets-mdapi's ObjectResponse the record is made of (peers.md §3.2). */
export interface BucketsObject {
  readonly id: string;
  readonly owner: string;
  readonly bucket_id: string;
  readonly name: string;
  readonly content_length: number;
  /** Base64 of the 16-byte digest. */
  readonly content_md5: string;
  readonly content_type: string;
  readonly headers: Readonly<Record<string, string | null>>;
  readonly sharks: readonly StorageNode[];
  readonly properties: unknown;
}

/**
 * The Moray-shaped value of a buckets object (peers.md §3.4): objectId = etag = id (the
 * etag buckets-mdapi compares `if-match` with), name = key, owner = creator, the `bucket_id`
 * member that marks it v2, the vnode it lives in, and its own headers and properties kept
 * as they are (L set `headers: {}` and dropped properties, and so clobbered them on update).
 */
export function bucketsObjectToValue(object: BucketsObject, vnode: number): MantaObjectValue {
  return {
    bucket_id: object.bucket_id,
    contentLength: object.content_length,
    contentMD5: object.content_md5,
    contentType: object.content_type,
    creator: object.owner,
    dirname: '',
    etag: object.id,
    headers: { ...object.headers },
    key: object.name,
    mtime: 0,
    name: object.name,
    objectId: object.id,
    owner: object.owner,
    properties: object.properties,
    roles: [],
    sharks: object.sharks.map((s) => ({
      datacenter: s.datacenter,
      manta_storage_id: s.manta_storage_id,
    })),
    type: 'object',
    vnode,
  };
}

/** A Moray-shaped value that cannot become a buckets-mdapi update: `field` says why. */
export class InvalidBucketsRecordError extends RebalancerError {
  override readonly name = 'InvalidBucketsRecordError';
  readonly code = 'invalid_buckets_record';
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`buckets object record: ${field} ${reason}`);
  }
}

/** What `updateobject` needs to rewrite one object, conditional on its id (peers.md §3.3). */
export interface BucketsObjectUpdate {
  owner: string;
  bucket_id: string;
  name: string;
  id: string;
  vnode: number;
  content_type: string;
  headers: Record<string, string | null>;
  sharks: StorageNode[];
  properties: unknown;
  conditions: { 'if-match': string[] };
}

/**
 * The `updateobject` payload (less `request_id`) that writes `value` back: its sharks, and
 * its own content type, headers and properties unchanged, on condition that the object still
 * has the id the value was read with (`etag`, which for v2 is the id).
 */
export function valueToBucketsUpdate(value: MantaObjectValue): BucketsObjectUpdate {
  const uuid = (field: string, v: unknown): string => {
    if (!isUuid(v)) throw new InvalidBucketsRecordError(field, 'is not a UUID');
    return v;
  };
  const bucketId = uuid('bucket_id', value.bucket_id);
  const id = uuid('objectId', value.objectId);
  const etag = value.etag ?? id;
  if (etag !== id) {
    throw new InvalidBucketsRecordError('etag', `${etag} is not the objectId ${id}`);
  }
  if (value.vnode === undefined) throw new InvalidBucketsRecordError('vnode', 'is missing');
  if (value.contentType === undefined) {
    throw new InvalidBucketsRecordError('contentType', 'is missing');
  }
  return {
    owner: uuid('owner', value.owner),
    bucket_id: bucketId,
    name: value.name ?? value.key,
    id,
    vnode: value.vnode,
    content_type: value.contentType,
    // hstore holds strings and nulls; anything else is written as its JSON text, as L does.
    headers: Object.fromEntries(
      Object.entries(value.headers ?? {}).map(([k, v]) => [
        k,
        v === null || typeof v === 'string' ? v : JSON.stringify(v),
      ]),
    ),
    sharks: value.sharks.map((s) => ({
      datacenter: s.datacenter,
      manta_storage_id: s.manta_storage_id,
    })),
    properties: value.properties ?? null,
    conditions: { 'if-match': [id] },
  };
}
