/**
 * Seeds the sandbox's buckets tier: buckets per owner, ordinary objects (some with user
 * headers, null values among them, and properties), and multipart uploads in each state
 * (seed/mpu.ts). Copies are chosen as the v1 seeder chooses them.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { runBounded } from '../bounded.ts';
import type { BucketsTier } from '../buckets-tier.ts';
import type { SandboxShark } from '../description.ts';
import { type BucketsObjectInput, BucketsWriter } from './buckets-writer.ts';
import { type MpuCounts, MpuSeeder } from './mpu.ts';
import { SeededRandom } from './random.ts';
import { copySharks, type ObjectsPlan, pickCopies, SeedError } from './seeder.ts';

/** `objects` counts ordinary objects: MPU uploads come on top. */
export interface BucketsSeedPlan extends ObjectsPlan {
  bucketsPerOwner?: number;
  /** Uploads in each MPU state; default one per 200 objects, at least 1 (0 without objects). */
  mpuUploads?: number;
}

export interface BucketsSeedReport {
  objects: number;
  buckets: number;
  /** Objects given user headers / properties. */
  with_headers: number;
  with_properties: number;
  mpu: MpuCounts;
  files: number;
  bytes: number;
  seconds: number;
}

/** Rows created at once: the shards' RPC concurrency, files written before their rows. */
const CONCURRENCY = 48;
const CHUNK = 512;

export async function seedBuckets(
  tier: BucketsTier,
  sharks: readonly SandboxShark[],
  plan: BucketsSeedPlan,
): Promise<BucketsSeedReport> {
  const started = performance.now();
  if (tier.shards.length === 0) throw new SeedError('the sandbox has no buckets shards');
  const random = new SeededRandom((plan.seed ?? Date.now()) ^ 0x5bd1e995);
  const eligible = copySharks(sharks, plan);
  const writer = new BucketsWriter(tier);
  const owners = Array.from({ length: plan.owners ?? 4 }, () => random.uuid());
  const buckets: { owner: string; id: string; name: string }[] = [];
  for (const owner of owners) {
    for (let b = 0; b < (plan.bucketsPerOwner ?? 3); b++) {
      const name = `seed-bucket-${b}`;
      const bucket = await writer.createBucket(owner, name, randomUUID());
      buckets.push({ owner, id: bucket.id, name });
    }
  }
  const report: BucketsSeedReport = {
    objects: 0,
    buckets: buckets.length,
    with_headers: 0,
    with_properties: 0,
    mpu: { in_progress: 0, committed: 0, initiated: 0, parts_with_data: 0, parts_gone: 0 },
    files: 0,
    bytes: 0,
    seconds: 0,
  };
  let chunk: BucketsObjectInput[] = [];
  const send = async () => {
    const batch = chunk;
    chunk = [];
    await runBounded(
      batch.map((o) => () => writer.createObject(o, randomUUID())),
      CONCURRENCY,
    );
    report.objects += batch.length;
    plan.onProgress?.(report.objects);
  };
  for (let i = 0; i < plan.objects; i++) {
    const bucket = buckets[i % buckets.length] as (typeof buckets)[number];
    const size = random.logUniform(plan.minSize, plan.maxSize);
    const headers = userHeaders(i);
    const properties = i % 4 === 1 ? { seed: i, tags: ['sandbox', `n${i % 10}`] } : undefined;
    if (Object.keys(headers).length > 0) report.with_headers++;
    if (properties !== undefined) report.with_properties++;
    chunk.push({
      owner: bucket.owner,
      bucketId: bucket.id,
      // Some names have slashes, as S3 keys do; the name hash keeps the path flat.
      name: `${i % 5 === 0 ? `dir${i % 7}/` : ''}o${i.toString().padStart(8, '0')}-${random.int(0, 0xffffff).toString(16)}`,
      id: random.uuid(),
      content: randomBytes(size),
      contentType: i % 2 === 0 ? 'application/octet-stream' : 'text/plain',
      copies: pickCopies(random, eligible, random.int(plan.minCopies, plan.maxCopies)),
      writeFiles: true,
      headers,
      ...(properties === undefined ? {} : { properties }),
    });
    if (chunk.length === CHUNK) await send();
  }
  if (chunk.length > 0) await send();

  const uploads =
    plan.mpuUploads ?? (plan.objects > 0 ? Math.max(1, Math.round(plan.objects / 200)) : 0);
  const mpu = new MpuSeeder(writer, random, eligible, plan);
  report.mpu = await mpu.seed(buckets, uploads);
  report.files = writer.files;
  report.bytes = writer.bytes;
  report.seconds = (performance.now() - started) / 1000;
  return report;
}

/** User headers on every third object; one of them null, as hstore allows. */
function userHeaders(i: number): Record<string, string | null> {
  if (i % 3 !== 0) return {};
  return { 'm-seed': `v${i}`, 'm-unset': null, 'content-disposition': 'inline' };
}
