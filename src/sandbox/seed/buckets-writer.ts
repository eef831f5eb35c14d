/**
 * Writes buckets (v2) objects as buckets-api would have: the bytes at the v2 path on each
 * copy's mako root, then the row through `createobject` at the vnode the placement ring
 * gives the object, on the shard that hosts that vnode.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { bucketVnode, objectVnode } from '../../manta/buckets.ts';
import { md5Base64, objectFilePath, objectNameHash } from '../../manta/index.ts';
import type { Bucket, StorageNodeIdentifier } from '../../mdapi/index.ts';
import type { BucketsTier } from '../buckets-tier.ts';
import type { SandboxShark } from '../description.ts';
import { SeedError } from './seeder.ts';

/** One buckets object to create. */
export interface BucketsObjectInput {
  owner: string;
  bucketId: string;
  name: string;
  id: string;
  /** The bytes; null for an object without data (an upload record). */
  content: Buffer | null;
  contentType: string;
  /** The sharks the row names. */
  copies: readonly SandboxShark[];
  /** Whether the files are written (false: a committed upload's part, its files gone). */
  writeFiles: boolean;
  headers: Record<string, string | null>;
  properties?: unknown;
}

export class BucketsWriter {
  readonly #tier: BucketsTier;
  readonly #madeDirs = new Set<string>();
  files = 0;
  bytes = 0;

  constructor(tier: BucketsTier) {
    this.#tier = tier;
  }

  async createBucket(owner: string, name: string, requestId: string): Promise<Bucket> {
    const vnode = bucketVnode(owner, name, this.#tier.vnodeCount);
    try {
      return await this.#tier.at(vnode).createBucket({ owner, name, vnode, request_id: requestId });
    } catch (err) {
      throw new SeedError(`createbucket ${owner}/${name}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  /** Writes the object's files (when asked), then its row. */
  async createObject(o: BucketsObjectInput, requestId: string): Promise<void> {
    if (o.writeFiles && o.content) {
      const location = {
        owner: o.owner,
        objectId: o.id,
        bucketId: o.bucketId,
        objectNameHash: objectNameHash(o.name),
      };
      for (const shark of o.copies) {
        await this.#write(objectFilePath(shark.root, location), o.content);
      }
    }
    const vnode = objectVnode(o.owner, o.bucketId, o.name, this.#tier.vnodeCount);
    const sharks: StorageNodeIdentifier[] = o.copies.map((s) => ({
      datacenter: s.datacenter,
      manta_storage_id: s.manta_storage_id,
    }));
    try {
      await this.#tier.at(vnode).createObject({
        owner: o.owner,
        bucket_id: o.bucketId,
        name: o.name,
        id: o.id,
        vnode,
        content_length: o.content?.length ?? 0,
        content_md5: o.content ? md5Base64(o.content) : '',
        content_type: o.contentType,
        headers: o.headers,
        sharks,
        ...(o.properties === undefined ? {} : { properties: o.properties }),
        request_id: requestId,
      });
    } catch (err) {
      throw new SeedError(
        `createobject ${o.owner}/${o.bucketId}/${o.name} at vnode ${vnode} on ${this.#tier.shardOf(vnode)}: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }

  async #write(file: string, content: Buffer): Promise<void> {
    const dir = dirname(file);
    if (!this.#madeDirs.has(dir)) {
      await mkdir(dir, { recursive: true });
      this.#madeDirs.add(dir);
    }
    await writeFile(file, content);
    this.files++;
    this.bytes += content.length;
  }
}
