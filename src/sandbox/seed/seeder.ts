import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RebalancerError } from '../../errors.ts';
import { md5Base64 } from '../../manta/index.ts';
import { runBounded } from '../bounded.ts';
import type { SandboxShark } from '../description.ts';
import { shardIndexOfVnode } from '../ring.ts';
import { SeededRandom } from './random.ts';
import { directoryRecord, type MantaRecord, objectRecord } from './record.ts';

/** One `put` of a Moray batch (protocols.md §2.7). */
export interface BatchPut {
  bucket: string;
  operation: 'put';
  key: string;
  value: Record<string, unknown>;
  options: { etag?: string | null };
}

/** What the seeder needs of a shard: the Moray client's `batch` satisfies it. */
export interface SeedShard {
  name: string;
  batch(requests: BatchPut[]): Promise<unknown>;
}

/** What seeding either metadata tier is asked for: the objects, their sizes and copies. */
export interface ObjectsPlan {
  objects: number;
  minCopies: number;
  maxCopies: number;
  /** Object sizes in bytes, drawn log-uniformly between these. */
  minSize: number;
  maxSize: number;
  /** Storage ids eligible for copies; every shark when absent. */
  sharks?: readonly string[];
  owners?: number;
  seed?: number;
  onProgress?: (seeded: number) => void;
}

export interface SeedPlan extends ObjectsPlan {
  directoriesPerOwner?: number;
  /** Puts per Moray batch RPC. */
  batchSize?: number;
}

export interface SeedReport {
  objects: number;
  directories: number;
  files: number;
  bytes: number;
  seconds: number;
}

/** An object to seed: its record (sharks, MD5, ...) and the bytes every copy holds. */
export interface SeedObject {
  record: MantaRecord;
  content: Buffer;
}

export class SeedError extends RebalancerError {
  override readonly name = 'SeedError';
  readonly code = 'seed_failed';
}

const FILE_WRITE_CONCURRENCY = 32;

/**
 * Seeds objects the way Manta would have stored them: a file with the object's bytes at
 * `<root>/<owner>/<objectId>` on each chosen shark, and the metadata record (real contentMD5,
 * vnode) put into the shard that owns its key. Records are written with `etag: null`, so
 * seeding never overwrites an existing object.
 */
export class Seeder {
  readonly #shards: readonly SeedShard[];
  readonly #sharks: ReadonlyMap<string, SandboxShark>;
  readonly #madeDirs = new Set<string>();
  readonly #pending: BatchPut[][];
  #batchSize = 200;

  constructor(shards: readonly SeedShard[], sharks: readonly SandboxShark[]) {
    if (shards.length === 0) throw new SeedError('the sandbox has no shards');
    this.#shards = shards;
    this.#sharks = new Map(sharks.map((s) => [s.manta_storage_id, s]));
    this.#pending = shards.map(() => []);
  }

  async seed(plan: SeedPlan): Promise<SeedReport> {
    const started = performance.now();
    const random = new SeededRandom(plan.seed ?? Date.now());
    this.#batchSize = plan.batchSize ?? 200;
    const eligible = copySharks([...this.#sharks.values()], plan);
    const owners = Array.from({ length: plan.owners ?? 4 }, () => random.uuid());
    const directories = owners.flatMap((owner) =>
      Array.from(
        { length: plan.directoriesPerOwner ?? 8 },
        (_, i) => `/${owner}/stor/seed/d${i.toString().padStart(3, '0')}`,
      ),
    );
    const now = Date.now();
    for (const owner of owners) {
      for (const path of [`/${owner}/stor`, `/${owner}/stor/seed`]) {
        this.#queue(directoryRecord(owner, path, now), undefined);
      }
    }
    for (const dir of directories)
      this.#queue(directoryRecord(dir.split('/')[1] ?? '', dir, now), undefined);

    const report: SeedReport = { objects: 0, directories: 0, files: 0, bytes: 0, seconds: 0 };
    report.directories = owners.length * 2 + directories.length;
    const chunk: SeedObject[] = [];
    for (let i = 0; i < plan.objects; i++) {
      const dir = directories[i % directories.length] as string;
      const owner = dir.split('/')[1] as string;
      const size = random.logUniform(plan.minSize, plan.maxSize);
      const content = randomBytes(size);
      const copies = pickCopies(random, eligible, random.int(plan.minCopies, plan.maxCopies));
      chunk.push({
        content,
        record: objectRecord({
          owner,
          dirname: dir,
          name: `o${i.toString().padStart(8, '0')}-${random.int(0, 0xffffff).toString(16)}`,
          objectId: random.uuid(),
          contentLength: size,
          contentMD5: md5Base64(content),
          sharks: copies.map((s) => ({
            datacenter: s.datacenter,
            manta_storage_id: s.manta_storage_id,
          })),
          mtime: now,
        }),
      });
      if (chunk.length === FILE_WRITE_CONCURRENCY * 4 || i === plan.objects - 1) {
        const written = await this.store(chunk.splice(0));
        report.objects += written.objects;
        report.files += written.files;
        report.bytes += written.bytes;
        plan.onProgress?.(report.objects);
      }
    }
    await this.flush();
    report.seconds = (performance.now() - started) / 1000;
    return report;
  }

  /** Writes the objects' files on their sharks, then queues their records (see flush()). */
  async store(
    objects: readonly SeedObject[],
  ): Promise<{ objects: number; files: number; bytes: number }> {
    const writes: Array<() => Promise<void>> = [];
    let bytes = 0;
    for (const object of objects) {
      const { owner, objectId, sharks } = object.record as unknown as {
        owner: string;
        objectId: string;
        sharks: { manta_storage_id: string }[];
      };
      for (const copy of sharks) {
        const shark = this.#sharks.get(copy.manta_storage_id);
        if (!shark) throw new SeedError(`unknown shark ${copy.manta_storage_id}`);
        bytes += object.content.length;
        writes.push(() => this.#writeFile(shark.root, owner, objectId, object.content));
      }
    }
    await runBounded(writes, FILE_WRITE_CONCURRENCY);
    for (const object of objects) this.#queue(object.record, null);
    await this.#flushFull();
    return { objects: objects.length, files: writes.length, bytes };
  }

  /** Sends every queued record. */
  async flush(): Promise<void> {
    await Promise.all(this.#shards.map((shard, i) => this.#send(shard, i, 0)));
  }

  #queue(record: MantaRecord, etag: null | undefined): void {
    const index = shardIndexOfVnode(record.vnode, this.#shards.length);
    const options = etag === null ? { etag: null } : {};
    this.#pending[index]?.push({
      bucket: 'manta',
      operation: 'put',
      key: record.key,
      value: record,
      options,
    });
  }

  async #flushFull(): Promise<void> {
    await Promise.all(this.#shards.map((shard, i) => this.#send(shard, i, this.#batchSize)));
  }

  /** Sends the shard's queue in batches while it holds more than `keep` records. */
  async #send(shard: SeedShard, index: number, keep: number): Promise<void> {
    const queue = this.#pending[index] as BatchPut[];
    while (queue.length > keep && queue.length > 0) {
      const batch = queue.splice(0, this.#batchSize);
      try {
        await shard.batch(batch);
      } catch (err) {
        throw new SeedError(
          `batch of ${batch.length} puts to shard ${shard.name} failed: ${(err as Error).message}`,
          { cause: err },
        );
      }
    }
  }

  async #writeFile(root: string, owner: string, objectId: string, content: Buffer): Promise<void> {
    const dir = join(root, owner);
    if (!this.#madeDirs.has(dir)) {
      await mkdir(dir, { recursive: true });
      this.#madeDirs.add(dir);
    }
    await writeFile(join(dir, objectId), content);
  }
}

/**
 * The sharks `plan` may put copies on (its `sharks`, or all of them), once its copy counts are
 * known to fit them.
 */
export function copySharks(
  sharks: readonly SandboxShark[],
  plan: Pick<ObjectsPlan, 'sharks' | 'minCopies' | 'maxCopies'>,
): SandboxShark[] {
  const eligible = plan.sharks?.map((id) => {
    const shark = sharks.find((s) => s.manta_storage_id === id);
    if (!shark) throw new SeedError(`unknown shark ${id}`);
    return shark;
  }) ?? [...sharks];
  if (plan.maxCopies > eligible.length || plan.minCopies < 1 || plan.minCopies > plan.maxCopies) {
    throw new SeedError(
      `copies must be 1 <= min (${plan.minCopies}) <= max (${plan.maxCopies}) <= sharks (${eligible.length})`,
    );
  }
  return eligible;
}

/** `count` sharks, spread over as many datacenters as possible (as Manta places copies). */
export function pickCopies(
  random: SeededRandom,
  sharks: readonly SandboxShark[],
  count: number,
): SandboxShark[] {
  const byDatacenter = new Map<string, SandboxShark[]>();
  for (const shark of random.sample(sharks, sharks.length)) {
    const list = byDatacenter.get(shark.datacenter) ?? [];
    list.push(shark);
    byDatacenter.set(shark.datacenter, list);
  }
  const picked: SandboxShark[] = [];
  while (picked.length < count) {
    for (const list of byDatacenter.values()) {
      const shark = list.shift();
      if (shark && picked.length < count) picked.push(shark);
    }
  }
  return picked;
}
