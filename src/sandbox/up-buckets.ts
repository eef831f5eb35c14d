/**
 * The buckets tier of a sandbox: buckets-mdapi shard stand-ins beside the Moray shards, each
 * its own process and database, and what the manager's config says about them.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { SandboxBucketsShard } from './description.ts';
import {
  bucketsShardName,
  bucketsShardVnodes,
  DEFAULT_BUCKETS_VNODES,
  type SandboxLayout,
} from './layout.ts';
import { seedPgliteDataDir } from './pglite-template.ts';
import type { StartedService } from './process.ts';

/** What starting a buckets shard needs of the sandbox's startup (see up.ts). */
export interface BucketsShardStartup {
  readonly dir: string;
  /** Administrative URL of a real PostgreSQL; PGlite under `dir` when absent. */
  readonly adminUrl: string | undefined;
  start(name: string, entry: string, args: string[]): Promise<StartedService>;
  /** A new database on the real server at `adminUrl`, dropped again if the startup fails. */
  createDatabase(adminUrl: string, suffix: string): Promise<string>;
}

/** buckets-mdapi's port, which the manager's config names shards by (`<name>:2030`). */
const MDAPI_PORT = 2030;

/**
 * Starts buckets shard `n` hosting its share of the ring's vnodes. It serves the discovery
 * RPCs (`listvnodes`/`listowners`): the production server does not, but on PGlite the
 * manager has no clone to scan directly, and the RPC listing needs them.
 */
export async function startBucketsShard(
  n: number,
  layout: SandboxLayout,
  startup: BucketsShardStartup,
): Promise<SandboxBucketsShard> {
  const name = bucketsShardName(n, layout.domain);
  const vnodes = bucketsShardVnodes(
    n,
    layout.bucketsShards ?? 0,
    layout.bucketsVnodes ?? DEFAULT_BUCKETS_VNODES,
  );
  let storage: string[];
  let databaseUrl: string | undefined;
  if (startup.adminUrl) {
    databaseUrl = await startup.createDatabase(startup.adminUrl, `buckets${n}`);
    storage = ['--database-url', databaseUrl];
  } else {
    const dataDir = join(startup.dir, 'buckets-shards', String(n), 'pgdata');
    await mkdir(dataDir, { recursive: true });
    await seedPgliteDataDir(dataDir);
    storage = ['--data-dir', dataDir];
  }
  const service = await startup.start(name, 'sandbox/mdapi/main', [
    '--name',
    name,
    '--port',
    '0',
    '--vnodes',
    vnodes.join(','),
    '--discovery-rpcs',
    ...storage,
  ]);
  return {
    name,
    host: service.address.host,
    port: service.address.port,
    vnodes,
    ...(databaseUrl ? { database_url: databaseUrl } : {}),
  };
}

/**
 * The manager's config keys for the buckets shards: `mdapi.shards` by name, and (when the
 * shards are on a real server) `buckets_direct_db_urls` by shard number, used only with
 * `direct_db: true`. Nothing when there are none.
 */
export function bucketsManagerConfig(
  shards: readonly SandboxBucketsShard[],
): Record<string, unknown> {
  if (shards.length === 0) return {};
  const urls: Record<string, string> = {};
  for (const shard of shards) {
    if (shard.database_url) urls[shardNumberOf(shard)] = shard.database_url;
  }
  return {
    mdapi: {
      shards: shards.map((shard) => ({ host: shard.name })),
      // The ring's vnode count: where MPU upload records live, for their shark rewrite.
      vnode_count: new Set(shards.flatMap((shard) => shard.vnodes)).size,
    },
    ...(Object.keys(urls).length > 0 ? { buckets_direct_db_urls: urls } : {}),
  };
}

/** The manager reaches buckets shards by their Manta names on buckets-mdapi's port. */
export function bucketsManagerAliases(
  shards: readonly SandboxBucketsShard[],
): Record<string, string> {
  const aliases: Record<string, string> = {};
  for (const shard of shards)
    aliases[`${shard.name}:${MDAPI_PORT}`] = `${shard.host}:${shard.port}`;
  return aliases;
}

const shardNumberOf = (shard: SandboxBucketsShard): string => shard.name.split('.')[0] as string;
