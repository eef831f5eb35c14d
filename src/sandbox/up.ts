import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { RebalancerError } from '../errors.ts';
import type { Logger } from '../log/index.ts';
import {
  readSandboxDescription,
  type SandboxDescription,
  writeSandboxDescription,
} from './description.ts';
import { type SandboxLayout, validateLayout } from './layout.ts';
import { dropSandboxDatabase } from './postgres.ts';
import { isRunning, stopProcess } from './process.ts';
import { type ServiceTiming, Startup, writeMakoAliases } from './startup.ts';
import { prepareShards } from './up-shards.ts';

export interface StartSandboxOptions {
  dir: string;
  layout: SandboxLayout;
  /** Start a rebalancer agent per shark and a manager (default true). */
  rebalancer?: boolean;
  /** Administrative URL of a real PostgreSQL: each shard gets its own database there. */
  databaseUrl?: string;
  /**
   * Top-level keys set in the manager's config.json over the sandbox's (tests and benchmarks
   * tune it), e.g. `{ options: { md_read_chunk_size: 1000 } }`.
   */
  managerOptions?: Record<string, unknown>;
  log?: Logger;
  /** Told of each service once it listens: how long it took, and when (start-up profiles). */
  onServiceStarted?: (timing: ServiceTiming) => void;
}

export class SandboxAlreadyRunningError extends RebalancerError {
  override readonly name = 'SandboxAlreadyRunningError';
  readonly code = 'sandbox_already_running';
}

/**
 * Starts a sandbox Manta in `dir`: Moray shards, one mako per storage node, storinfo, each a
 * real child process on 127.0.0.1, and writes `dir/sandbox.json`. On any failure everything it
 * started is stopped again.
 */
export async function startSandbox(options: StartSandboxOptions): Promise<SandboxDescription> {
  const layout = validateLayout(options.layout);
  const { dir } = options;
  await refuseIfRunning(dir);
  await mkdir(join(dir, 'logs'), { recursive: true });
  const started = new Startup(dir, options.log, options.onServiceStarted);
  const rebalancer = options.rebalancer ?? true;
  // Each service starts as soon as what it needs runs, not in waves: agents and storinfo need
  // only the makos, the manager everything. On PGlite the shards take longest.
  const sharksUp = allOrFirstError(range(layout.sharks).map((n) => started.mako(n, layout)));
  const shardsUp = allOrFirstError(
    range(layout.shards).map((n) => started.shard(n, layout, options.databaseUrl)),
  );
  const bucketsUp = allOrFirstError(
    range(layout.bucketsShards ?? 0).map((n) =>
      started.bucketsShard(n, layout, options.databaseUrl),
    ),
  );
  const agentsUp = sharksUp.then(async (sharks) => {
    await writeMakoAliases(dir, sharks);
    if (!rebalancer) return [];
    return allOrFirstError(sharks.map((shark, i) => started.agent(i + 1, shark)));
  });
  const storinfoUp = sharksUp.then((sharks) => started.storinfo(sharks, layout));
  const prepared = allOrFirstError([shardsUp, sharksUp]).then(([shards, sharks]) =>
    prepareShards(shards, sharks, layout),
  );
  const describedUp = allOrFirstError([shardsUp, sharksUp, bucketsUp, storinfoUp, agentsUp]).then(
    ([shards, sharks, bucketsShards, storinfo, agentUrls]): SandboxDescription => {
      sharks.forEach((shark, i) => {
        if (agentUrls[i] !== undefined) shark.agent_url = agentUrls[i];
      });
      return {
        domain: layout.domain,
        storinfo: { url: storinfo.address.url },
        shards,
        buckets_shards: bucketsShards,
        sharks,
        processes: started.processes,
      };
    },
  );
  const managerDir =
    rebalancer && options.databaseUrl === undefined
      ? started.managerDataDir()
      : Promise.resolve('');
  const managerUp = allOrFirstError([describedUp, prepared, managerDir]).then(([description]) =>
    rebalancer
      ? started.manager(description, options.databaseUrl, options.managerOptions)
      : undefined,
  );
  try {
    // Settles only once every branch has: nothing is still starting when undo() runs.
    const [description, manager] = await allOrFirstError([describedUp, managerUp]);
    if (manager) description.manager = manager;
    await writeSandboxDescription(dir, description);
    return description;
  } catch (err) {
    await started.undo();
    throw err;
  }
}

/** Stops every process of the sandbox in `dir` and drops its PostgreSQL databases. */
export async function stopSandbox(dir: string): Promise<SandboxDescription> {
  const description = await readSandboxDescription(dir);
  for (const proc of [...description.processes].reverse()) await stopProcess(proc.pid);
  const databases = [
    ...description.shards.map((shard) => shard.database_url),
    ...(description.buckets_shards ?? []).map((shard) => shard.database_url),
    description.manager?.database_url,
  ];
  for (const url of databases) if (url) await dropSandboxDatabase(url);
  await writeSandboxDescription(dir, { ...description, processes: [] });
  return description;
}

const range = (count: number): number[] => Array.from({ length: count }, (_, i) => i + 1);

/** Like Promise.all, but waits for every promise so that no service is still starting after. */
async function allOrFirstError<T extends readonly unknown[]>(
  promises: readonly [...{ [K in keyof T]: Promise<T[K]> }],
): Promise<T> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

async function refuseIfRunning(dir: string): Promise<void> {
  let existing: SandboxDescription;
  try {
    existing = await readSandboxDescription(dir);
  } catch {
    // No readable sandbox.json: nothing is running from this directory.
    return;
  }
  const running = existing.processes.filter((p) => isRunning(p.pid));
  if (running.length > 0) {
    throw new SandboxAlreadyRunningError(
      `a sandbox is already running in ${dir} (${running.map((p) => `${p.name} pid ${p.pid}`).join(', ')}); run "rebalancer-sandbox down --dir ${dir}" first`,
    );
  }
}
