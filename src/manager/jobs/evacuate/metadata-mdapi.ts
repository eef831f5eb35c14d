/**
 * The metadata port over buckets-mdapi (v2 records, peers.md §3.3–§3.6, manager.md §4.9). A v2
 * record's etag is its id, which a metadata update does not change, so an `if-match` alone
 * cannot see another writer's change of the copies or the user's headers: an update reads the
 * live row (at the object's vnode, on the shard it was discovered on), requires the same id
 * and the copies it was computed from, and writes the live content type, headers and
 * properties back unchanged with the new copies, `if-match` on the id; all under a
 * manager-wide lock on the object, so two jobs never interleave a read and a write.
 */
import type { StorageNode } from '../../../api/common.ts';
import type { KeyedMutex } from '../../../async/index.ts';
import {
  bucketsObjectToValue,
  InvalidBucketsRecordError,
  objectVnode,
  valueToBucketsUpdate,
} from '../../../manta/buckets.ts';
import { isUuid, type MantaObjectValue } from '../../../manta/index.ts';
import {
  mpuPartUploadId,
  rewriteUploadRecordSharks,
  uploadRecordName,
} from '../../../manta/mpu.ts';
import {
  isRetryableMdapiError,
  type MdapiClient,
  MdapiError,
  MdapiEtagMismatchError,
  MdapiObjectNotFoundError,
  type MdapiPayload,
  MdapiServerError,
  type ObjectResponse,
  type UpdateObjectPayload,
} from '../../../mdapi/index.ts';
import {
  type LiveRecord,
  MetadataEtagMismatchError,
  MetadataObjectNotFoundError,
  MetadataRejectedError,
  type MetadataUpdate,
  type MetadataWriter,
  type RecordRef,
  type UnusableRecord,
  type UploadRecordOutcome,
} from './types.ts';

/** Where a v2 row is: its key and vnode. */
interface RowKey {
  owner: string;
  bucket_id: string;
  name: string;
  vnode: number;
}

export interface MdapiWriterOptions {
  /** A client per buckets-mdapi shard, by shard number (the first label of its host). */
  clients: ReadonlyMap<number, MdapiClient>;
  /** Shared by every job of the manager: one read-modify-write of an object at a time. */
  locks: KeyedMutex;
  /** The placement ring's vnode count; 0: upload records cannot be found (`disabled`). */
  vnodeCount: number;
}

function rowKey(value: MantaObjectValue | undefined): RowKey | string {
  if (value === undefined) return 'no stored record to locate the buckets object';
  const { owner, bucket_id: bucketId, vnode } = value;
  if (!isUuid(owner)) return 'owner is not a UUID';
  if (!isUuid(bucketId)) return 'bucket_id is not a UUID';
  if (vnode === undefined || !Number.isSafeInteger(vnode) || vnode < 0) return 'vnode is missing';
  return { owner, bucket_id: bucketId, name: value.name ?? value.key, vnode };
}

const lockKey = (k: Omit<RowKey, 'vnode'>): string =>
  `${k.owner}\u0000${k.bucket_id}\u0000${k.name}`;

function sameCopies(a: readonly StorageNode[], b: readonly StorageNode[]): boolean {
  return (
    a.length === b.length &&
    a.every(
      (s, i) => s.manta_storage_id === b[i]?.manta_storage_id && s.datacenter === b[i]?.datacenter,
    )
  );
}

/** An mdapi failure in the port's terms: typed outcomes, transient, or a refusal. */
function portError(err: unknown, what: string): unknown {
  if (err instanceof MdapiEtagMismatchError) {
    return new MetadataEtagMismatchError(`${what}: the object has a new id`, { cause: err });
  }
  if (err instanceof MdapiObjectNotFoundError) {
    return new MetadataObjectNotFoundError(`${what}: object no longer exists`, { cause: err });
  }
  if (isRetryableMdapiError(err)) return err;
  if (err instanceof MdapiError || err instanceof InvalidBucketsRecordError) {
    const why =
      err instanceof MdapiServerError && err.missingVnodeSchema
        ? 'the shard does not host the vnode: '
        : '';
    return new MetadataRejectedError(`${what}: ${why}${err.message}`, { cause: err });
  }
  return err;
}

export class MdapiMetadataWriter implements MetadataWriter {
  constructor(private readonly options: MdapiWriterOptions) {}

  private client(shard: number): MdapiClient {
    const client = this.options.clients.get(shard);
    if (!client) throw new MetadataRejectedError(`buckets shard ${shard} is not configured`);
    return client;
  }

  /** The live row, or undefined when gone. */
  private async live(
    shard: number,
    key: RowKey,
    signal: AbortSignal,
  ): Promise<ObjectResponse | undefined> {
    try {
      return await this.client(shard).getObject(key, { signal });
    } catch (err) {
      if (err instanceof MdapiObjectNotFoundError) return undefined;
      throw portError(err, `getobject ${key.vnode}/${key.name}`);
    }
  }

  async getObject(
    ref: RecordRef,
    signal: AbortSignal,
  ): Promise<LiveRecord | UnusableRecord | undefined> {
    signal.throwIfAborted();
    const key = rowKey(ref.object);
    if (typeof key === 'string') return { problem: key, etag: '' };
    const row = await this.live(ref.shard, key, signal);
    return row === undefined
      ? undefined
      : { value: bucketsObjectToValue(row, key.vnode), etag: row.id };
  }

  /**
   * The payload writing `u.value`'s copies over the live row `row`, which must still be the
   * object and copies `u` was computed from (else a MetadataEtagMismatchError: the caller
   * reads the live record and judges the conflict).
   */
  private payload(
    u: MetadataUpdate,
    row: ObjectResponse | undefined,
  ): MdapiPayload<UpdateObjectPayload> | Error {
    if (row === undefined)
      return new MetadataObjectNotFoundError(`${u.key}: object no longer exists`);
    if (row.id !== u.etag) {
      return new MetadataEtagMismatchError(`${u.key}: id ${row.id}, expected ${u.etag}`);
    }
    if (!sameCopies(row.sharks, u.previous.sharks)) {
      return new MetadataEtagMismatchError(`${u.key}: its copies changed since they were read`);
    }
    try {
      return valueToBucketsUpdate({
        ...u.value,
        contentType: row.content_type,
        headers: row.headers,
        properties: row.properties,
      });
    } catch (err) {
      const e = portError(err, u.key);
      return e instanceof Error ? e : new MetadataRejectedError(String(e));
    }
  }

  async putObject(u: MetadataUpdate, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    const key = rowKey(u.value);
    if (typeof key === 'string') throw new MetadataRejectedError(`${u.key}: ${key}`);
    await this.options.locks.run(lockKey(key), async () => {
      const payload = this.payload(u, await this.live(u.shard, key, signal));
      if (payload instanceof Error) throw payload;
      try {
        await this.client(u.shard).updateObject(payload, { signal });
      } catch (err) {
        throw portError(err, `updateobject ${key.vnode}/${key.name}`);
      }
    });
  }

  /**
   * The live rows read under every object's lock (taken in one order, so two batches never
   * wait on each other), then one `batchupdateobjects` (per-vnode transactions) for those
   * unchanged. Changed or vanished records and failed vnodes are left for single updates.
   */
  async putBatch(
    shard: number,
    updates: readonly MetadataUpdate[],
    signal: AbortSignal,
  ): Promise<readonly MetadataUpdate[]> {
    signal.throwIfAborted();
    const keyed: { u: MetadataUpdate; key: RowKey }[] = [];
    const left: MetadataUpdate[] = [];
    for (const u of updates) {
      const key = rowKey(u.value);
      if (typeof key === 'string') left.push(u);
      else keyed.push({ u, key });
    }
    const locks = [...new Set(keyed.map((k) => lockKey(k.key)))].sort();
    const locked = (i: number, fn: () => Promise<void>): Promise<void> =>
      i === locks.length
        ? fn()
        : this.options.locks.run(locks[i] as string, () => locked(i + 1, fn));
    await locked(0, async () => {
      const rows = await Promise.all(keyed.map((k) => this.live(shard, k.key, signal)));
      const sent = new Map<string, MetadataUpdate>();
      const payloads: MdapiPayload<UpdateObjectPayload>[] = [];
      keyed.forEach((k, i) => {
        const payload = this.payload(k.u, rows[i]);
        if (payload instanceof Error) left.push(k.u);
        else {
          payloads.push(payload);
          sent.set(lockKey(k.key), k.u);
        }
      });
      if (payloads.length === 0) return;
      let failed: readonly { objects: readonly Omit<RowKey, 'vnode'>[] }[];
      try {
        ({ failed } = await this.client(shard).batchUpdateObjects(payloads, { signal }));
      } catch (err) {
        // Nothing of the batch was applied (no batch RPC, or refused): one by one.
        if (signal.aborted) throw err;
        failed = [{ objects: payloads }];
      }
      for (const f of failed) {
        for (const p of f.objects) {
          const u = sent.get(lockKey(p));
          if (u) left.push(u);
        }
      }
    });
    return left;
  }

  async updateUploadRecord(
    part: MantaObjectValue,
    evacuated: string,
    dest: StorageNode,
    signal: AbortSignal,
  ): Promise<UploadRecordOutcome> {
    const { vnodeCount, clients, locks } = this.options;
    if (vnodeCount === 0) return 'disabled';
    const partKey = rowKey(part);
    const uploadId = mpuPartUploadId(part.name ?? part.key);
    if (typeof partKey === 'string' || uploadId === undefined) {
      throw new MetadataRejectedError(`${part.key} is not an MPU part of a buckets object`);
    }
    const name = uploadRecordName(uploadId);
    const { owner, bucket_id } = partKey;
    const key: RowKey = {
      owner,
      bucket_id,
      name,
      vnode: objectVnode(owner, bucket_id, name, vnodeCount),
    };
    return locks.run(lockKey(key), async () => {
      // The record's shard is not known: the one hosting its vnode answers, the others lack it.
      for (const [shard, client] of [...clients].sort(([a], [b]) => a - b)) {
        let record: ObjectResponse;
        try {
          record = await client.getObject(key, { signal });
        } catch (err) {
          if (err instanceof MdapiServerError && err.missingVnodeSchema) continue;
          if (err instanceof MdapiObjectNotFoundError) return 'absent';
          throw portError(err, `upload record ${name} on buckets shard ${shard}`);
        }
        const rewrite = rewriteUploadRecordSharks(record.headers, evacuated, dest);
        if (rewrite === undefined) return 'unchanged';
        try {
          await client.updateObject(
            {
              ...key,
              id: record.id,
              content_type: record.content_type,
              headers: rewrite.headers,
              properties: record.properties,
              conditions: { 'if-match': [record.id] },
            },
            { signal },
          );
        } catch (err) {
          // Completed or aborted meanwhile: no upload to fix.
          if (err instanceof MdapiObjectNotFoundError) return 'absent';
          throw portError(err, `upload record ${name} on buckets shard ${shard}`);
        }
        return 'rewritten';
      }
      throw new MetadataRejectedError(`no buckets shard hosts vnode ${key.vnode} of ${name}`);
    });
  }
}
