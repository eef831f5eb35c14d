/**
 * The demo's buckets (v2) objects: seeded beside the Moray ones (with MPU uploads in every
 * state), verified by the independent verifier's buckets half, and reported apart from v1.
 */
import { BucketsTier } from '../buckets-tier.ts';
import type { SandboxDescription } from '../description.ts';
import { type BucketsSeedReport, seedBuckets } from '../seed/buckets.ts';
import type { EvacuationVerification } from '../verify.ts';
import {
  type BucketsSnapshot,
  type BucketsVerification,
  snapshotBucketsObjects,
  verifyBucketsSnapshot,
} from '../verify-buckets.ts';
import type { DemoCheck } from './checks.ts';

/** One tier's verification as the demo reports it. */
export interface DemoTierVerification {
  objects: number;
  verified: number;
  lost: number;
  still_on_shark: number;
  /** v2 only: rows whose id, content, headers or properties changed. */
  metadata_changed?: number;
  /** v2 only: parts of committed uploads, files gone by design. */
  mpu_part_no_data?: number;
}

export interface DemoBuckets {
  seeded: BucketsSeedReport | undefined;
  before: BucketsSnapshot;
}

/**
 * Seeds `objects` buckets objects (2–3 copies, so none has its only copy on the evacuated
 * shark) when the sandbox has buckets shards, and snapshots the tier.
 */
export async function seedDemoBuckets(
  sandbox: SandboxDescription,
  plan: { objects: number; seed: number; minSize: number; maxSize: number },
): Promise<DemoBuckets> {
  if ((sandbox.buckets_shards ?? []).length === 0 || plan.objects === 0) {
    return { seeded: undefined, before: new Map() };
  }
  const tier = BucketsTier.open(sandbox, 4);
  let seeded: BucketsSeedReport;
  try {
    seeded = await seedBuckets(tier, sandbox.sharks, {
      objects: plan.objects,
      minCopies: 2,
      maxCopies: 3,
      minSize: plan.minSize,
      maxSize: plan.maxSize,
      seed: plan.seed,
    });
  } finally {
    await tier.close();
  }
  return { seeded, before: await snapshotBucketsObjects(sandbox) };
}

/** Buckets rows naming `shark`: what the job finds of the tier. */
export function bucketsOn(snapshot: BucketsSnapshot, shark: string): number {
  let n = 0;
  for (const row of snapshot.values()) if (row.sharks.includes(shark)) n++;
  return n;
}

export async function verifyDemoBuckets(
  sandbox: SandboxDescription,
  buckets: DemoBuckets,
  evacuated: string,
): Promise<BucketsVerification | undefined> {
  if (buckets.before.size === 0) return undefined;
  const now = await snapshotBucketsObjects(sandbox);
  return verifyBucketsSnapshot(sandbox, now, { evacuated, before: buckets.before });
}

export function v1Tier(v: EvacuationVerification, stillOnShark: number): DemoTierVerification {
  return { objects: v.objects, verified: v.verified, lost: v.lost, still_on_shark: stillOnShark };
}

export function v2Tier(v: BucketsVerification): DemoTierVerification {
  return {
    objects: v.objects,
    verified: v.verified,
    lost: v.lost,
    still_on_shark: v.stillOnEvacuated,
    metadata_changed: v.metadataChanged,
    mpu_part_no_data: v.mpuPartNoData,
  };
}

/** Whatever the manager did with them, no buckets object may lose data or metadata. */
export function checkBuckets(v: BucketsVerification): DemoCheck {
  return {
    name: 'buckets (v2) objects intact, headers and properties unchanged',
    ok: v.lost === 0 && v.metadataChanged === 0,
    detail: `${v.objects} rows: lost ${v.lost}, metadata changed ${v.metadataChanged}, ${v.mpuPartNoData} committed MPU parts without data (expected)`,
  };
}
