import { MorayClient } from '../../moray/index.ts';
import type { SandboxDescription } from '../description.ts';
import { Seeder, type SeedPlan, type SeedReport } from './seeder.ts';

/** Seeds a running sandbox through its shards' Moray RPC interface and its makos' roots. */
export async function seedSandbox(
  sandbox: SandboxDescription,
  plan: SeedPlan,
): Promise<SeedReport> {
  const clients = sandbox.shards.map(
    (shard) => new MorayClient({ host: shard.host, port: shard.port, connections: 2 }),
  );
  try {
    await Promise.all(clients.map((client) => client.connect()));
    const seeder = new Seeder(
      clients.map((client, i) => ({
        name: sandbox.shards[i]?.name ?? `shard ${i + 1}`,
        batch: (requests) => client.batch(requests),
      })),
      sandbox.sharks,
    );
    return await seeder.seed(plan);
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
}
