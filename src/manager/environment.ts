/**
 * The evacuate environment of a real deployment, from the config: Moray clients per shard
 * (metadata updates, and discovery unless `direct_db`), each shard's PostgreSQL clone for
 * discovery with `direct_db`, a shared storinfo poller and a picker per job, the agents' HTTP
 * client. (Buckets objects, through mdapi, are not handled yet.)
 */
import { connectPostgres, type Database } from '../db/index.ts';
import type { ShardSource } from '../discovery/index.ts';
import type { Logger } from '../log/index.ts';
import { resolveAddress, resolveAuthority } from '../manta/index.ts';
import { MorayClient } from '../moray/index.ts';
import {
  DestinationPicker,
  Reservations,
  StorinfoClient,
  StorinfoPoller,
} from '../storinfo/index.ts';
import { directDbUrl, effectiveExcludePrefixes, type ManagerConfig } from './config.ts';
import {
  DiscoveryObjectSource,
  MorayMetadataWriter,
  PickerChooser,
} from './jobs/evacuate/adapters.ts';
import { HttpAgentClient } from './jobs/evacuate/agent-client.ts';
import type { EvacuateEnvironment } from './jobs/evacuate/job.ts';
import { DEFAULT_SETTINGS } from './jobs/evacuate/types.ts';
import type { ManagerMetrics } from './metrics.ts';

/** Moray's port behind its haproxy (L finds it through `_moray._tcp` SRV records). */
const MORAY_PORT = 2020;

export interface RealEnvironment extends EvacuateEnvironment {
  storinfo: StorinfoClient;
  start(): Promise<void>;
  close(): Promise<void>;
}

export function createEnvironment(
  config: ManagerConfig,
  metrics: ManagerMetrics,
  log: Logger,
): RealEnvironment {
  const clients = new Map<number, MorayClient>();
  for (const s of config.shards) {
    const { host, port } = resolveAddress(s.host, MORAY_PORT, config.host_aliases);
    clients.set(
      s.shard,
      new MorayClient({
        host,
        port,
        requestTimeoutMs: config.moray_operation_timeout_ms,
        log: log.child({ component: 'moray' }),
      }),
    );
  }
  const clientFor = (shard: number): MorayClient => {
    const c = clients.get(shard);
    if (!c) throw new Error(`shard ${shard} is not in the configuration`);
    return c;
  };
  // Discovery reads the clones, which connect when a job first scans (a clone that is down
  // fails that job's discovery with the shard named, not the manager's start).
  const clones = new Map<number, Database>();
  if (config.direct_db) {
    for (const s of config.shards) {
      clones.set(
        s.shard,
        connectPostgres(directDbUrl(config, s.shard), {
          poolSize: 2,
          log: log.child({ component: 'direct-db', shard: s.shard }),
        }),
      );
    }
  }
  const shards = (): ShardSource[] =>
    config.direct_db
      ? [...clones.entries()].map(([shard, db]) => ({ shard, mode: 'direct-db', db }))
      : [...clients.entries()].map(([shard, client]) => ({ shard, mode: 'moray', client }));
  const storinfo = new StorinfoClient({ baseUrl: config.storinfo_url });
  const poller = new StorinfoPoller({
    client: storinfo,
    log: log.child({ component: 'storinfo' }),
  });
  const reservations = new Reservations();
  const agents = new HttpAgentClient({
    urlFor: (dest) =>
      `http://${resolveAuthority(dest.manta_storage_id, config.agent_port, config.host_aliases)}`,
  });
  const o = config.options;
  return {
    storinfo,
    source: new DiscoveryObjectSource(shards, {
      chunkSize: o.md_read_chunk_size,
      concurrency: o.max_md_read_threads,
      excludeKeyPrefixes: effectiveExcludePrefixes(o),
      log: log.child({ component: 'discovery' }),
    }),
    agents,
    metadata: new MorayMetadataWriter(clientFor),
    metrics,
    chooser: (job) =>
      new PickerChooser(
        new DestinationPicker({
          evacuated: job.fromShark,
          snapshot: () => poller.snapshot(),
          reservations,
          maxFillPercentage: config.max_fill_percentage,
          maxSharks: o.max_sharks,
        }),
        reservations,
        `${job.id}:`,
      ),
    settings: {
      ...DEFAULT_SETTINGS,
      maxTasksPerAssignment: o.max_tasks_per_assignment,
      maxAssignmentAgeSec: o.max_assignment_age,
      waitForDestinationsMs: o.shark_list_retry_delay_ms,
      batchedUpdates: o.use_batched_updates,
      metadataQueueDepth: o.use_static_md_update_threads ? o.static_queue_depth : undefined,
    },
    async start() {
      await poller.start();
    },
    async close() {
      poller.stop();
      await agents.close();
      await storinfo.close();
      await Promise.all([...clients.values(), ...clones.values()].map((c) => c.close()));
    },
  };
}
