/**
 * The independent verifier's buckets (v2) half: it lists every object row of the buckets
 * shards over their mdapi RPCs (owners, then buckets, then objects, per vnode) and reads the
 * makos' roots at the v2 path, never asking the manager. Kept apart from the v1 result so a
 * report shows each tier's outcome.
 */
import { isDeepStrictEqual } from 'node:util';
import { md5OfFile, objectFilePath, objectNameHash } from '../manta/index.ts';
import {
  mpuPartUploadId,
  mpuUploadRecordId,
  PREALLOCATED_SHARKS_HEADER,
  UPLOAD_RECORD_HEADER,
} from '../manta/mpu.ts';
import { runBounded } from './bounded.ts';
import { BucketsTier } from './buckets-tier.ts';
import type { SandboxDescription, SandboxShark } from './description.ts';
import { type MissingCopy, type MissingCopyReason, VerifyError } from './verify.ts';

/** One buckets object's row as its shard holds it. */
export interface BucketsObjectState {
  /** `<owner>/<bucket_id>/<name>`: unique over the tier. */
  key: string;
  shard: string;
  vnode: number;
  id: string;
  owner: string;
  bucket_id: string;
  name: string;
  content_length: number;
  content_md5: string;
  content_type: string;
  /** Storage ids of its copies, in row order. */
  sharks: string[];
  headers: Record<string, string | null>;
  properties: unknown;
}

export type BucketsSnapshot = Map<string, BucketsObjectState>;

/**
 * A user's write during the job, by key: the row as the user left it (an overwrite, a new
 * id), or null (a delete). The manager must leave it alone and report it as an error of the
 * buckets tier, `mdapi_etag_mismatch` or `mdapi_object_not_found` (not as a skip).
 */
export type BucketsUserWrites = ReadonlyMap<string, BucketsObjectState | null>;

export interface VerifyBucketsOptions {
  evacuated: string;
  before: BucketsSnapshot;
  /** Keys (`<owner>/<bucket_id>/<name>`) or object ids the manager reported skipped/error. */
  skipped?: ReadonlySet<string>;
  userWrites?: BucketsUserWrites;
}

/** The errors the job must have reported for the users' writes. */
export interface ExpectedBucketsErrors {
  mdapi_etag_mismatch: number;
  mdapi_object_not_found: number;
}

export interface BucketsVerification {
  objects: number;
  /** Objects off the evacuated shark (or allowed on it), copies intact, metadata unchanged. */
  verified: number;
  stillOnEvacuated: number;
  missingCopies: MissingCopy[];
  reducedCopies: number;
  /** Objects whose row is gone, or a copy missing or corrupt, or fewer copies. */
  lost: number;
  /** Objects whose id, content, headers or properties differ from before. */
  metadataChanged: number;
  /** Parts of committed uploads: their files are gone by design (`mpu_part_no_data`). */
  mpuPartNoData: number;
  /** Users' writes found as the users left them. */
  userWritesKept: number;
  /** Users' writes the rebalancer changed or undid. */
  userWritesLost: number;
  /** Of the users' writes found kept: what the manager must report for them. */
  expectedErrors: ExpectedBucketsErrors;
  problems: string[];
}

const PAGE = 1024;
const HASH_CONCURRENCY = 16;

/** Every object row of every buckets shard. */
export async function snapshotBucketsObjects(
  sandbox: SandboxDescription,
): Promise<BucketsSnapshot> {
  const snapshot: BucketsSnapshot = new Map();
  const tier = BucketsTier.open(sandbox, 2);
  try {
    const owners = new Set<string>();
    for (let v = 0; v < tier.vnodeCount; v++) {
      for (const owner of await tier.at(v).listOwners(v)) owners.add(owner);
    }
    const buckets: { owner: string; id: string }[] = [];
    for (const owner of owners) {
      for (let v = 0; v < tier.vnodeCount; v++) {
        let marker: string | undefined;
        for (;;) {
          const page = await tier
            .at(v)
            .listBuckets({ owner, vnode: v, limit: PAGE, ...(marker ? { marker } : {}) });
          for (const b of page) buckets.push({ owner, id: b.id });
          if (page.length < PAGE) break;
          marker = page[page.length - 1]?.name;
        }
      }
    }
    for (let v = 0; v < tier.vnodeCount; v++) {
      const client = tier.at(v);
      for (const b of buckets) {
        for await (const o of client.listAllObjects({
          owner: b.owner,
          bucket_id: b.id,
          vnode: v,
        })) {
          const key = `${o.owner}/${o.bucket_id}/${o.name}`;
          if (snapshot.has(key)) throw new VerifyError(`buckets object ${key} is in two vnodes`);
          snapshot.set(key, {
            key,
            shard: tier.shardOf(v),
            vnode: v,
            id: o.id,
            owner: o.owner,
            bucket_id: o.bucket_id,
            name: o.name,
            content_length: o.content_length,
            content_md5: o.content_md5,
            content_type: o.content_type,
            sharks: o.sharks.map((s) => s.manta_storage_id),
            headers: o.headers,
            properties: o.properties,
          });
        }
      }
    }
  } finally {
    await tier.close();
  }
  return snapshot;
}

/** Upload ids with an upload record in `snapshot`, per `<owner>/<bucket_id>`. */
function openUploads(snapshot: BucketsSnapshot): Set<string> {
  const open = new Set<string>();
  for (const o of snapshot.values()) {
    const id = mpuUploadRecordId(o.name);
    if (id !== undefined) open.add(`${o.owner}/${o.bucket_id}/${id}`);
  }
  return open;
}

/**
 * Compares the buckets tier now with `before`: every row still there with its id, content,
 * headers and properties (an upload record's two pre-allocated-shark headers may be
 * rewritten); none naming the evacuated shark unless reported skipped; every copy on disk at
 * the v2 path with the row's MD5; no fewer copies. Parts of committed uploads (no upload
 * record) are counted as `mpuPartNoData`, not checked for files or for the shark. A user's
 * write (`userWrites`) must be found as the user left it, and counts toward the errors the
 * job must report for it (`expectedErrors`).
 */
export async function verifyBucketsSnapshot(
  sandbox: SandboxDescription,
  now: BucketsSnapshot,
  options: VerifyBucketsOptions,
): Promise<BucketsVerification> {
  const sharks = new Map(sandbox.sharks.map((s) => [s.manta_storage_id, s]));
  const skipped = options.skipped ?? new Set<string>();
  const uploads = openUploads(options.before);
  const result: BucketsVerification = {
    objects: options.before.size,
    verified: 0,
    stillOnEvacuated: 0,
    missingCopies: [],
    reducedCopies: 0,
    lost: 0,
    metadataChanged: 0,
    mpuPartNoData: 0,
    userWritesKept: 0,
    userWritesLost: 0,
    expectedErrors: { mdapi_etag_mismatch: 0, mdapi_object_not_found: 0 },
    problems: [],
  };
  const checks: Array<() => Promise<void>> = [];
  for (const [key, was] of options.before) {
    const object = now.get(key);
    const userWrite = options.userWrites?.get(key);
    if (userWrite !== undefined) {
      checkUserWrite(result, key, userWrite, object);
      continue;
    }
    if (!object) {
      result.lost++;
      result.problems.push(`${key}: the object's row is gone`);
      continue;
    }
    const changed = metadataDifferences(was, object);
    if (changed.length > 0) {
      result.metadataChanged++;
      result.problems.push(`${key}: ${changed.join(', ')} changed`);
      continue;
    }
    const upload = mpuPartUploadId(object.name);
    if (upload !== undefined && !uploads.has(`${object.owner}/${object.bucket_id}/${upload}`)) {
      result.mpuPartNoData++;
      continue;
    }
    checks.push(async () => {
      const allowed = skipped.has(key) || skipped.has(object.id);
      let ok = true;
      let lost = false;
      if (object.sharks.includes(options.evacuated) && !allowed) {
        ok = false;
        result.stillOnEvacuated++;
        result.problems.push(`${key}: still on ${options.evacuated} and not reported skipped`);
      }
      const copies = new Set(object.sharks);
      if (copies.size < new Set(was.sharks).size) {
        lost = true;
        result.reducedCopies++;
        result.problems.push(`${key}: ${copies.size} distinct copies, ${was.sharks.length} before`);
      }
      for (const id of copies) {
        const reason = await checkCopy(object, sharks.get(id));
        if (reason) {
          lost = true;
          result.missingCopies.push({ key, shark: id, reason });
          result.problems.push(`${key}: copy on ${id}: ${reason}`);
        }
      }
      if (lost) result.lost++;
      else if (ok) result.verified++;
    });
  }
  await runBounded(checks, HASH_CONCURRENCY);
  return result;
}

/** A user's write must be found exactly as the user left it: copies included. */
function checkUserWrite(
  result: BucketsVerification,
  key: string,
  wrote: BucketsObjectState | null,
  object: BucketsObjectState | undefined,
): void {
  if (wrote === null) {
    if (object === undefined) {
      result.userWritesKept++;
      result.expectedErrors.mdapi_object_not_found++;
    } else {
      result.userWritesLost++;
      result.problems.push(`${key}: deleted by its user, but a row is back (id ${object.id})`);
    }
    return;
  }
  if (object === undefined) {
    result.userWritesLost++;
    result.problems.push(`${key}: overwritten by its user, but the row is gone`);
    return;
  }
  const differ = metadataDifferences(wrote, object);
  if (wrote.sharks.join(',') !== object.sharks.join(',')) differ.push('sharks');
  if (differ.length > 0) {
    result.userWritesLost++;
    result.problems.push(`${key}: the user's overwrite has its ${differ.join(', ')} changed`);
    return;
  }
  result.userWritesKept++;
  result.expectedErrors.mdapi_etag_mismatch++;
}

/** The members that must be as they were; sharks are the rebalancer's to change. */
function metadataDifferences(was: BucketsObjectState, is: BucketsObjectState): string[] {
  const differ: string[] = [];
  for (const member of ['id', 'content_length', 'content_md5', 'content_type'] as const) {
    if (was[member] !== is[member]) differ.push(member);
  }
  const rewritable = mpuUploadRecordId(is.name) !== undefined;
  const headers = (h: Record<string, string | null>) =>
    rewritable
      ? Object.fromEntries(
          Object.entries(h).filter(
            ([k]) => k !== UPLOAD_RECORD_HEADER && k !== PREALLOCATED_SHARKS_HEADER,
          ),
        )
      : h;
  if (!isDeepStrictEqual(headers(was.headers), headers(is.headers))) differ.push('headers');
  if (!isDeepStrictEqual(was.properties, is.properties)) differ.push('properties');
  return differ;
}

async function checkCopy(
  object: BucketsObjectState,
  shark: SandboxShark | undefined,
): Promise<MissingCopyReason | undefined> {
  if (!shark) return 'unknown shark';
  const file = objectFilePath(shark.root, {
    owner: object.owner,
    objectId: object.id,
    bucketId: object.bucket_id,
    objectNameHash: objectNameHash(object.name),
  });
  let md5: string;
  try {
    md5 = (await md5OfFile(file)).contentMd5;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'file missing';
    throw err;
  }
  return md5 === object.content_md5 ? undefined : 'md5 mismatch';
}
