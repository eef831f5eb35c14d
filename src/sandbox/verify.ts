/**
 * An independent check of an evacuation: it reads the shards' `manta` buckets over Moray and
 * the makos' object roots on disk, and never asks the manager, so a manager that lies about
 * its work cannot pass.
 */
import { join } from 'node:path';
import { RebalancerError } from '../errors.ts';
import { md5OfFile } from '../manta/index.ts';
import { MorayClient } from '../moray/index.ts';
import { runBounded } from './bounded.ts';
import type { SandboxDescription, SandboxShark } from './description.ts';

/** One object's metadata as a shard holds it. */
export interface ObjectState {
  key: string;
  /** The shard (Manta name) that holds the record. */
  shard: string;
  objectId: string;
  owner: string;
  contentMD5: string;
  /** Storage ids of its copies, in record order. */
  sharks: string[];
  /** Moray's etag of the record: it changes on every write, the rebalancer's or a user's. */
  etag: string;
  /** The record's contentLength, when it has a numeric one. */
  contentLength?: number;
  /** The record's user headers (`m-*` and the like), when it has them. */
  headers?: Record<string, unknown>;
}

/** Every object of the sandbox by key, as it was at one moment. */
export type ObjectSnapshot = Map<string, ObjectState>;

export type MissingCopyReason = 'file missing' | 'md5 mismatch' | 'unknown shark';

export interface MissingCopy {
  key: string;
  shark: string;
  reason: MissingCopyReason;
}

export interface VerifyEvacuationOptions {
  /** The storage id that was evacuated. */
  evacuated: string;
  /** Objects before the job. */
  before: ObjectSnapshot;
  /** Keys the manager reported skipped or in error: allowed to still name the shark. */
  skipped?: ReadonlySet<string>;
}

export interface EvacuationVerification {
  /** Objects in the `before` snapshot. */
  objects: number;
  /** Objects off the evacuated shark (or allowed on it) with every copy intact. */
  verified: number;
  /** Objects that still name the evacuated shark without being reported skipped/error. */
  stillOnEvacuated: number;
  missingCopies: MissingCopy[];
  /** Objects with fewer distinct copies than before. */
  reducedCopies: number;
  /** Objects that lost data: a copy missing or corrupt, fewer copies, or the record gone. */
  lost: number;
  problems: string[];
}

export class VerifyError extends RebalancerError {
  override readonly name = 'VerifyError';
  readonly code = 'verify_failed';
}

const PAGE_SIZE = 1000;
const HASH_CONCURRENCY = 16;

/** Reads every object record of every shard. */
export async function snapshotObjects(sandbox: SandboxDescription): Promise<ObjectSnapshot> {
  const snapshot: ObjectSnapshot = new Map();
  await Promise.all(
    sandbox.shards.map(async (shard) => {
      const client = new MorayClient({
        host: shard.host,
        port: shard.port,
        connections: 1,
        healthCheckIntervalMs: 0,
      });
      try {
        for await (const object of readObjects(client, shard.name)) {
          if (snapshot.has(object.key)) {
            throw new VerifyError(`object ${object.key} is on two shards`);
          }
          snapshot.set(object.key, object);
        }
      } finally {
        await client.close();
      }
    }),
  );
  return snapshot;
}

/** Pages through `manta` in `_id` order: each page starts after the last `_id` seen. */
async function* readObjects(client: MorayClient, shard: string): AsyncGenerator<ObjectState> {
  let after = -1;
  for (;;) {
    let count = 0;
    for await (const record of client.findObjects('manta', `(&(type=object)(_id>=${after + 1}))`, {
      limit: PAGE_SIZE,
      sort: { attribute: '_id', order: 'ASC' },
      no_count: true,
    })) {
      count++;
      after = Math.max(after, record._id);
      yield objectState(record.key, shard, record.value, record._etag);
    }
    if (count < PAGE_SIZE) return;
  }
}

function objectState(
  key: string,
  shard: string,
  value: Record<string, unknown>,
  etag: string,
): ObjectState {
  const text = (member: string): string => {
    const v = value[member];
    if (typeof v !== 'string') {
      throw new VerifyError(`object ${key} on ${shard}: "${member}" is not a string`);
    }
    return v;
  };
  const sharks = value.sharks;
  if (!Array.isArray(sharks)) throw new VerifyError(`object ${key} on ${shard}: no sharks array`);
  return {
    key,
    shard,
    objectId: text('objectId'),
    owner: text('owner'),
    contentMD5: text('contentMD5'),
    sharks: sharks.map((s: unknown) => {
      const id = (s as { manta_storage_id?: unknown } | null)?.manta_storage_id;
      if (typeof id !== 'string') {
        throw new VerifyError(`object ${key} on ${shard}: a copy without manta_storage_id`);
      }
      return id;
    }),
    etag,
    ...(typeof value.contentLength === 'number' ? { contentLength: value.contentLength } : {}),
    ...(isPlainObject(value.headers) ? { headers: value.headers } : {}),
  };
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Compares the sandbox now with `before`: no object may still name the evacuated shark unless
 * the manager reported it skipped/error; every copy a record names must be on disk with the
 * record's MD5; no object may have fewer copies than before.
 */
export async function verifyEvacuation(
  sandbox: SandboxDescription,
  options: VerifyEvacuationOptions,
): Promise<EvacuationVerification> {
  return verifySnapshot(sandbox, await snapshotObjects(sandbox), options);
}

/** verifyEvacuation against a snapshot `now` already taken (the files are read now). */
export async function verifySnapshot(
  sandbox: SandboxDescription,
  now: ObjectSnapshot,
  options: VerifyEvacuationOptions,
): Promise<EvacuationVerification> {
  const sharks = new Map(sandbox.sharks.map((s) => [s.manta_storage_id, s]));
  const skipped = options.skipped ?? new Set<string>();
  const result: EvacuationVerification = {
    objects: options.before.size,
    verified: 0,
    stillOnEvacuated: 0,
    missingCopies: [],
    reducedCopies: 0,
    lost: 0,
    problems: [],
  };
  const checks: Array<() => Promise<void>> = [];
  for (const [key, was] of options.before) {
    const object = now.get(key);
    if (!object) {
      result.lost++;
      result.problems.push(`${key}: the object's record is gone`);
      continue;
    }
    checks.push(async () => {
      let ok = true;
      let lost = false;
      if (object.sharks.includes(options.evacuated) && !skipped.has(key)) {
        ok = false;
        result.stillOnEvacuated++;
        result.problems.push(
          `${key}: still on ${options.evacuated} and not reported skipped or in error`,
        );
      }
      const copies = new Set(object.sharks);
      if (copies.size < new Set(was.sharks).size) {
        lost = true;
        result.reducedCopies++;
        result.problems.push(
          `${key}: ${copies.size} distinct copies (${object.sharks.join(', ')}), ${new Set(was.sharks).size} before (${was.sharks.join(', ')})`,
        );
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

/** Why the copy of `object` on `shark` is not what the record promises, or undefined. */
async function checkCopy(
  object: ObjectState,
  shark: SandboxShark | undefined,
): Promise<MissingCopyReason | undefined> {
  if (!shark) return 'unknown shark';
  let md5: string;
  try {
    md5 = (await md5OfFile(join(shark.root, object.owner, object.objectId))).contentMd5;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'file missing';
    throw err;
  }
  return md5 === object.contentMD5 ? undefined : 'md5 mismatch';
}

/** What a user's last write of a key left: the record that must be live now, or none. */
export type UserWrittenRecord =
  | { deleted: true }
  | {
      deleted: false;
      objectId: string;
      owner: string;
      contentMD5: string;
      contentLength: number;
      /** The copies the user's write named (how many copies the object must keep at least). */
      sharks: string[];
      /** Headers the user set: each must still have the value the user gave it. */
      headers: Record<string, string>;
    };

export interface ClobberedUserWrite {
  key: string;
  problem: string;
}

/**
 * Whether every user write is still the live record: a deleted key has no record (no update
 * resurrected it); a written key's record has the user's objectId, owner, MD5, length and
 * headers (no rebalancer update put an older version back or mixed two). Copies may move:
 * verifySnapshot checks the files.
 */
export function verifyUserWrites(
  now: ObjectSnapshot,
  written: ReadonlyMap<string, UserWrittenRecord>,
): ClobberedUserWrite[] {
  const problems: ClobberedUserWrite[] = [];
  for (const [key, wrote] of written) {
    const live = now.get(key);
    if (wrote.deleted) {
      if (live) problems.push({ key, problem: `deleted by the user, but a record is live again` });
      continue;
    }
    if (!live) {
      problems.push({ key, problem: 'written by the user, but the record is gone' });
      continue;
    }
    const differ: string[] = [];
    const compare = (name: string, was: unknown, is: unknown) => {
      if (was !== is) differ.push(`${name} ${String(is)} (the user wrote ${String(was)})`);
    };
    compare('objectId', wrote.objectId, live.objectId);
    compare('owner', wrote.owner, live.owner);
    compare('contentMD5', wrote.contentMD5, live.contentMD5);
    compare('contentLength', wrote.contentLength, live.contentLength);
    for (const [name, value] of Object.entries(wrote.headers)) {
      compare(`header ${name}`, value, live.headers?.[name]);
    }
    if (differ.length > 0) problems.push({ key, problem: differ.join(', ') });
  }
  return problems;
}
