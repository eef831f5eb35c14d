/**
 * The demo's buckets (v2) objects: seeded beside the Moray ones (with MPU uploads in every
 * state), verified by the independent verifier's buckets half, and reported apart from v1.
 */
import type { JobResults } from '../../api/manager.ts';
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

/** One tier's share of the job, as the manager reports it (`results.tiers`). */
export interface DemoTierJob {
  objects: number;
  complete: number;
  skipped: number;
  errors: number;
}

/** The job's counts per tier; a job without v2 objects is all v1 (L's shape, no `tiers`). */
export function jobTiers(r: JobResults): { v1: DemoTierJob; v2: DemoTierJob } {
  const of = (t: { Total: number; Complete: number; Skipped: number; Error: number }) => ({
    objects: t.Total,
    complete: t.Complete,
    skipped: t.Skipped,
    errors: t.Error,
  });
  const none = { Total: 0, Complete: 0, Skipped: 0, Error: 0 };
  // `Total` of the whole job counts duplicates too; a tier's does not.
  return r.tiers
    ? { v1: of(r.tiers.v1), v2: of(r.tiers.v2) }
    : { v1: of({ ...r, Total: r.Total - r.Duplicates }), v2: of(none) };
}

/**
 * Like the v1 check: a v2 row still naming the shark is accounted for only by a v2 skip or
 * error the manager reported beyond the expected ones (committed MPU parts without data, the
 * users' writes).
 */
export function checkBucketsOffShark(
  v: BucketsVerification,
  results: JobResults,
  shark: string,
): DemoCheck {
  const tier = results.tiers?.v2;
  const e = v.expectedErrors;
  const expected =
    (results.skip_breakdown?.mpu_part_no_data ?? 0) +
    e.mdapi_etag_mismatch +
    e.mdapi_object_not_found;
  const reportedOthers = Math.max(0, (tier?.Skipped ?? 0) + (tier?.Error ?? 0) - expected);
  const unexplained = v.stillOnEvacuated;
  return {
    name: 'every v2 object on the shark moved off it',
    ok: unexplained <= reportedOthers,
    detail:
      unexplained === 0
        ? `no buckets row names ${shark} but the ${expected} expected skips/errors`
        : `${unexplained} buckets rows still name ${shark}; the manager reported ${reportedOthers} other v2 skips/errors`,
  };
}

/**
 * The users' writes during the job (none unless made) are the user's still, each reported as
 * the buckets tier's error for it, never as a skip.
 */
export function checkBucketsUserWrites(v: BucketsVerification, results: JobResults): DemoCheck {
  const mdapi = results.error_breakdown?.mdapi ?? {};
  const e = v.expectedErrors;
  const reported = [mdapi.etag_mismatch ?? 0, mdapi.object_not_found ?? 0];
  const ok =
    v.userWritesLost === 0 &&
    reported[0] === e.mdapi_etag_mismatch &&
    reported[1] === e.mdapi_object_not_found;
  return {
    name: "v2 users' overwrites and deletes kept, reported as errors",
    ok,
    detail: `${v.userWritesKept} kept, ${v.userWritesLost} changed; mdapi etag_mismatch ${reported[0]} (expected ${e.mdapi_etag_mismatch}), object_not_found ${reported[1]} (expected ${e.mdapi_object_not_found})`,
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
