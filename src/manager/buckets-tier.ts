/**
 * The buckets (v2) tier of a deployment, from the `mdapi` config block: a buckets-mdapi client
 * per shard (shard number = the first label of its host, L), their discovery sources (the
 * buckets-postgres clones with `direct_db`, one flag for both tiers as in L, else the listing
 * RPCs) and the metadata writer over them, with the manager-wide lock every job's v2
 * read-modify-write takes.
 */
import { KeyedMutex } from '../async/index.ts';
import { connectPostgres, type Database } from '../db/index.ts';
import type { BucketsShardSource } from '../discovery/index.ts';
import type { Logger } from '../log/index.ts';
import { resolveAddress } from '../manta/index.ts';
import { MdapiClient } from '../mdapi/index.ts';
import { bucketsDirectDbUrl, type ManagerConfig } from './config.ts';
import { MdapiMetadataWriter } from './jobs/evacuate/metadata-mdapi.ts';

/** buckets-mdapi's port (L finds it through `_buckets-mdapi._tcp` SRV records). */
const MDAPI_PORT = 2030;

export interface BucketsTier {
  /** Undefined when no mdapi shard is configured. */
  writer: MdapiMetadataWriter | undefined;
  sources(): BucketsShardSource[];
  close(): Promise<void>;
}

export function bucketsTier(config: ManagerConfig, log: Logger): BucketsTier {
  const m = config.mdapi;
  const mdapiLog = log.child({ component: 'mdapi' });
  const clients = new Map<number, MdapiClient>();
  for (const s of m.shards) {
    const { host, port } = resolveAddress(s.host, MDAPI_PORT, config.host_aliases);
    clients.set(
      s.shard,
      new MdapiClient({
        host,
        port,
        connectTimeoutMs: m.connection_timeout_ms,
        operationTimeoutMs: m.operation_timeout_ms,
        maxBatchSize: Math.min(m.max_batch_size, 1000),
        maxRetries: m.max_retries,
        initialBackoffMs: m.initial_backoff_ms,
        maxBackoffMs: m.max_backoff_ms,
        log: mdapiLog,
      }),
    );
  }
  // Connected when a job first scans: a clone that is down fails that job's discovery.
  const clones = new Map<number, Database>();
  if (config.direct_db) {
    for (const shard of clients.keys()) {
      clones.set(
        shard,
        connectPostgres(bucketsDirectDbUrl(config, shard), {
          poolSize: 2,
          log: log.child({ component: 'buckets-direct-db', shard }),
        }),
      );
    }
  }
  if (clients.size > 0 && m.vnode_count === 0) {
    mdapiLog.warn(
      'mdapi.vnode_count is not configured: MPU upload records are not rewritten when their parts move',
    );
  }
  return {
    writer:
      clients.size === 0
        ? undefined
        : new MdapiMetadataWriter({ clients, locks: new KeyedMutex(), vnodeCount: m.vnode_count }),
    sources: () =>
      config.direct_db
        ? [...clones].map(([shard, db]) => ({ shard, mode: 'buckets-direct-db', db }))
        : [...clients].map(([shard, client]) => ({ shard, mode: 'buckets-rpc', client })),
    async close() {
      await Promise.all([...clients.values(), ...clones.values()].map((c) => c.close()));
    },
  };
}
