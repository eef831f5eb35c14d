/**
 * The evacuate environment of a real deployment, from the config: Moray clients per shard
 * (metadata updates, and discovery unless `direct_db`), a buckets-mdapi client per `mdapi`
 * shard (v2 metadata updates, and discovery unless `direct_db`), each shard's PostgreSQL clone
 * (Moray's and buckets-postgres') for discovery with `direct_db`, a shared storinfo poller and
 * a picker per job, the agents' HTTP client.
 *
 * Given the config as a function, it follows a SIGUSR1 reload (src/manager/reload.ts): the
 * `live` keys (fill limit, max_sharks, blocklists, agent_auth_token) reach running jobs at their
 * next placement or request, the `new-jobs` keys reach jobs created afterwards; the `restart`
 * keys are read once, here.
 */

import type { StorageNode } from '../api/common.ts';
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
  type StorinfoSnapshot,
} from '../storinfo/index.ts';
import type { AuditDeps } from './audit/audit.ts';
import { auditDeps } from './audit/deps.ts';
import { bucketsTier } from './buckets-tier.ts';
import { directDbUrl, effectiveExcludePrefixes, type ManagerConfig } from './config.ts';
import { MorayMetadataWriter, PickerChooser } from './jobs/evacuate/adapters.ts';
import { HttpAgentClient } from './jobs/evacuate/agent-client.ts';
import { DiscoveryObjectSource } from './jobs/evacuate/discovery-source.ts';
import type { EvacuateEnvironment } from './jobs/evacuate/job.ts';
import { MetadataBudgets } from './jobs/evacuate/limits.ts';
import { TieredMetadataWriter } from './jobs/evacuate/metadata-router.ts';
import {
  type AgentClient,
  DEFAULT_SETTINGS,
  type DestinationChooser,
  type EvacuateSettings,
} from './jobs/evacuate/types.ts';
import type { PlanEnvironment } from './jobs/plan/executor.ts';
import type { ManagerMetrics } from './metrics.ts';
import { orphanEnvironment, type RealOrphanEnvironment } from './orphans/environment.ts';
import type { JobRecord } from './store/index.ts';

/** Moray's port behind its haproxy (L finds it through `_moray._tcp` SRV records). */
const MORAY_PORT = 2020;

export interface RealEnvironment extends EvacuateEnvironment {
  /** What dry runs need: discovery and placement, no agents, no metadata writer. */
  plan: PlanEnvironment;
  /** What safe-to-remove audits need: discovery without exclusions, the makos over HTTP. */
  audit: AuditDeps;
  /** What orphan listings need: each shark's agent file routes, discovery without exclusions. */
  orphans: RealOrphanEnvironment;
  storinfo: StorinfoClient;
  /** The storinfo poller's latest snapshot (none before its first answer). */
  storinfoSnapshot(): StorinfoSnapshot | undefined;
  /** The fleet-wide metadata update budget per shard, shared by every job. */
  metadataBudgets: MetadataBudgets;
  /** Shard 1's Moray: its `manta_storage` bucket names the storage nodes (manager.md §4.2). */
  storageShard: MorayClient;
  start(): Promise<void>;
  close(): Promise<void>;
}

export function createEnvironment(
  configSource: ManagerConfig | (() => ManagerConfig),
  metrics: ManagerMetrics,
  log: Logger,
): RealEnvironment {
  const current = typeof configSource === 'function' ? configSource : () => configSource;
  // What is bound at start (`restart` keys): clients, addresses, discovery mode.
  const config = current();
  const metadataBudgets = new MetadataBudgets(config.metadata_updates_per_second_per_shard);
  const morayClient = (name: string): MorayClient => {
    const { host, port } = resolveAddress(name, MORAY_PORT, config.host_aliases);
    return new MorayClient({
      host,
      port,
      requestTimeoutMs: config.moray_operation_timeout_ms,
      log: log.child({ component: 'moray' }),
    });
  };
  const clients = new Map<number, MorayClient>();
  for (const s of config.shards) clients.set(s.shard, morayClient(s.host));
  // L reaches `1.moray.<domain>` for `manta_storage` even when discovery does not scan shard 1.
  const storageShard = clients.get(1) ?? morayClient(`1.moray.${config.domain_name}`);
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
  const buckets = bucketsTier(config, log);
  const shards = (): ShardSource[] => [
    ...(config.direct_db
      ? [...clones.entries()].map(([shard, db]) => ({ shard, mode: 'direct-db' as const, db }))
      : [...clients.entries()].map(([shard, client]) => ({
          shard,
          mode: 'moray' as const,
          client,
        }))),
    ...buckets.sources(),
  ];
  const metadata = new TieredMetadataWriter({
    moray: new MorayMetadataWriter(clientFor),
    ...(buckets.writer ? { buckets: buckets.writer } : {}),
  });
  const storinfo = new StorinfoClient({ baseUrl: config.storinfo_url });
  const poller = new StorinfoPoller({
    client: storinfo,
    log: log.child({ component: 'storinfo' }),
  });
  const reservations = new Reservations();
  const agents = new LiveAgentClient(
    () => current().agent_auth_token,
    (authToken) =>
      new HttpAgentClient({
        urlFor: (dest) =>
          `http://${resolveAuthority(dest.manta_storage_id, config.agent_port, config.host_aliases)}`,
        authToken,
      }),
    log,
  );
  const discoveryLog = log.child({ component: 'discovery' });
  // One discovery source per config: a job takes the one current when it is created.
  const sources = new WeakMap<ManagerConfig, DiscoveryObjectSource>();
  const sourceFor = (c: ManagerConfig): DiscoveryObjectSource => {
    let source = sources.get(c);
    if (!source) {
      source = new DiscoveryObjectSource(shards, {
        chunkSize: c.options.md_read_chunk_size,
        concurrency: c.options.max_md_read_threads,
        excludeKeyPrefixes: effectiveExcludePrefixes(c.options),
        log: discoveryLog,
      });
      sources.set(c, source);
    }
    return source;
  };
  const audit = auditDeps({ shards, config: current, log: discoveryLog });
  const orphans = orphanEnvironment({ shards, config: current, log: discoveryLog });
  const destinationPicker = (job: JobRecord, c: ManagerConfig): DestinationPicker =>
    new DestinationPicker({
      evacuated: job.fromShark,
      snapshot: () => poller.snapshot(),
      reservations,
      maxFillPercentage: c.max_fill_percentage,
      maxSharks: c.options.max_sharks,
      blockedSharks: c.options.blocklist,
      blockedDatacenters: c.options.blocked_datacenters,
    });
  const pickerFor = (job: JobRecord, c: ManagerConfig): PickerChooser =>
    new PickerChooser(destinationPicker(job, c), reservations, `${job.id}:`);
  return {
    storinfo,
    storinfoSnapshot: () => poller.snapshot(),
    storageShard,
    get source() {
      return sourceFor(current());
    },
    agents,
    metadata,
    metrics,
    metadataBudgets,
    chooser: (job) => new LiveChooser(current, (c) => pickerFor(job, c)),
    get settings() {
      return jobSettings(current());
    },
    audit,
    orphans,
    plan: {
      get source() {
        return sourceFor(current());
      },
      reservations,
      // Asked per page of objects, so a reloaded fill limit or blocklist reaches a plan.
      picker: (job) => destinationPicker(job, current()),
      get settings() {
        return jobSettings(current());
      },
    },
    async start() {
      await poller.start();
    },
    async close() {
      poller.stop();
      await agents.close();
      await audit.copies.close();
      await orphans.close();
      await storinfo.close();
      const morays = new Set([...clients.values(), storageShard]);
      await Promise.all(
        [...morays, ...clones.values()].map((c) => c.close()).concat(buckets.close()),
      );
    },
  };
}

function jobSettings(c: ManagerConfig): Omit<EvacuateSettings, 'maxObjects' | 'metadataThreads'> {
  const o = c.options;
  return {
    ...DEFAULT_SETTINGS,
    maxTasksPerAssignment: o.max_tasks_per_assignment,
    maxAssignmentAgeSec: o.max_assignment_age,
    waitForDestinationsMs: o.shark_list_retry_delay_ms,
    batchedUpdates: o.use_batched_updates,
    metadataQueueDepth: o.use_static_md_update_threads ? o.static_queue_depth : undefined,
    agentOutageToleranceMs: c.agent_outage_tolerance_ms,
    convergeDelayMs: c.converge_delay_seconds * 1000,
  };
}

/**
 * A job's chooser over the placement settings of the current config: after a reload the next
 * choice uses a picker with the new fill limit, max_sharks and blocklists. Reservations live
 * outside the picker (shared, keyed by job), so replacing it keeps what the job holds.
 */
class LiveChooser implements DestinationChooser {
  private builtFor: ManagerConfig | undefined;
  private chooser: PickerChooser | undefined;

  constructor(
    private readonly current: () => ManagerConfig,
    private readonly build: (config: ManagerConfig) => PickerChooser,
  ) {}

  private now(): PickerChooser {
    const config = this.current();
    if (this.chooser === undefined || this.builtFor !== config) {
      this.chooser = this.build(config);
      this.builtFor = config;
    }
    return this.chooser;
  }

  choose(...args: Parameters<DestinationChooser['choose']>) {
    return this.now().choose(...args);
  }
  restore(dest: StorageNode, objects: readonly { id: string; sizeBytes: number }[]): void {
    this.now().restore(dest, objects);
  }
  release(objectIds: readonly string[]): void {
    this.now().release(objectIds);
  }
  commit(objectIds: readonly string[]): void {
    this.now().commit(objectIds);
  }
  releaseAll(): void {
    this.now().releaseAll();
  }
}

/**
 * The agents' client sending the current agent_auth_token: a new token gets a new client, and
 * the old one closes once the requests it carries are answered.
 */
class LiveAgentClient implements AgentClient {
  private token: string | undefined;
  private client: HttpAgentClient;
  private readonly retired: Promise<void>[] = [];

  constructor(
    private readonly tokenNow: () => string | undefined,
    private readonly build: (token: string | undefined) => HttpAgentClient,
    private readonly log: Logger,
  ) {
    this.token = tokenNow();
    this.client = build(this.token);
  }

  private now(): HttpAgentClient {
    const token = this.tokenNow();
    if (token !== this.token) {
      const old = this.client;
      this.retired.push(
        old.close().catch((err: unknown) => this.log.warn({ err }, 'closing agent connections')),
      );
      this.token = token;
      this.client = this.build(token);
    }
    return this.client;
  }

  post(...args: Parameters<AgentClient['post']>): ReturnType<AgentClient['post']> {
    return this.now().post(...args);
  }
  get(...args: Parameters<AgentClient['get']>): ReturnType<AgentClient['get']> {
    return this.now().get(...args);
  }
  async close(): Promise<void> {
    await Promise.all([this.client.close(), ...this.retired]);
  }
}
