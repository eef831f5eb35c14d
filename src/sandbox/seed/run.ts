import { MorayClient } from '../../moray/index.ts';
import { BucketsTier } from '../buckets-tier.ts';
import type { SandboxDescription } from '../description.ts';
import { type BucketsSeedReport, seedBuckets } from './buckets.ts';
import { Seeder, type SeedPlan, type SeedReport } from './seeder.ts';

export interface SandboxSeedPlan extends SeedPlan {
  /** Buckets (v2) objects to create besides, MPU uploads on top; 0 or absent: none. */
  bucketsObjects?: number;
  /** Uploads per MPU state (see seed/buckets.ts for the default). */
  mpuUploads?: number;
}

export interface SandboxSeedReport extends SeedReport {
  /** Present when buckets objects were seeded. */
  buckets?: BucketsSeedReport;
}

/**
 * Seeds a running sandbox through its shards' Moray RPC interface, its buckets shards'
 * mdapi RPCs, and its makos' roots.
 */
export async function seedSandbox(
  sandbox: SandboxDescription,
  plan: SandboxSeedPlan,
): Promise<SandboxSeedReport> {
  const clients = sandbox.shards.map(
    (shard) => new MorayClient({ host: shard.host, port: shard.port, connections: 2 }),
  );
  let report: SandboxSeedReport;
  try {
    await Promise.all(clients.map((client) => client.connect()));
    const seeder = new Seeder(
      clients.map((client, i) => ({
        name: sandbox.shards[i]?.name ?? `shard ${i + 1}`,
        batch: (requests) => client.batch(requests),
      })),
      sandbox.sharks,
    );
    report = await seeder.seed(plan);
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
  const bucketsObjects = plan.bucketsObjects ?? 0;
  if (bucketsObjects === 0 && plan.mpuUploads === undefined) return report;
  const tier = BucketsTier.open(sandbox, 4);
  try {
    const { onProgress: _, ...rest } = plan;
    report.buckets = await seedBuckets(tier, sandbox.sharks, { ...rest, objects: bucketsObjects });
  } finally {
    await tier.close();
  }
  return report;
}
