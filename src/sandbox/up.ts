import { randomBytes } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RebalancerError } from '../errors.ts';
import type { Logger } from '../log/index.ts';
import {
  readSandboxDescription,
  type SandboxBucketsShard,
  type SandboxDescription,
  type SandboxProcess,
  type SandboxShard,
  type SandboxShark,
  writeSandboxDescription,
} from './description.ts';
import {
  datacenterOf,
  type SandboxLayout,
  shardName,
  storageId,
  validateLayout,
} from './layout.ts';
import { createSandboxDatabase, dropSandboxDatabase } from './postgres.ts';
import {
  entryPoint,
  heapLimitEnv,
  isRunning,
  SERVICE_HEAP_MB,
  type StartedService,
  startService,
  stopProcess,
} from './process.ts';
import { bucketsManagerAliases, bucketsManagerConfig, startBucketsShard } from './up-buckets.ts';
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
  const started = new Startup(dir, options.log);
  try {
    // Start services concurrently: each takes seconds (PGlite, module loading), not CPU-bound.
    const [shards, sharks, bucketsShards] = await Promise.all([
      allOrFirstError(
        range(layout.shards).map((n) => started.shard(n, layout, options.databaseUrl)),
      ),
      allOrFirstError(range(layout.sharks).map((n) => started.mako(n, layout))),
      allOrFirstError(
        range(layout.bucketsShards ?? 0).map((n) =>
          started.bucketsShard(n, layout, options.databaseUrl),
        ),
      ),
    ]);
    await writeMakoAliases(dir, sharks);
    await prepareShards(shards, sharks, layout);
    const storinfo = await started.storinfo(sharks, layout);
    const description: SandboxDescription = {
      domain: layout.domain,
      storinfo: { url: storinfo.address.url },
      shards,
      buckets_shards: bucketsShards,
      sharks,
      processes: started.processes,
    };
    if (options.rebalancer ?? true) {
      const agentUrls = await allOrFirstError(
        sharks.map((shark, i) => started.agent(i + 1, shark)),
      );
      sharks.forEach((shark, i) => {
        shark.agent_url = agentUrls[i];
      });
      description.manager = await started.manager(
        description,
        options.databaseUrl,
        options.managerOptions,
      );
    }
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
async function allOrFirstError<T>(promises: Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

const MAKO_ALIASES_FILE = 'mako-aliases.json';

/** Written whole and renamed into place: a reader never sees half a file. */
async function writeJson(path: string, value: unknown): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(value, null, 2)}\n`);
  await rename(temp, path);
}

/** Every agent reads one aliases file: where each storage id's mako listens (port 80). */
async function writeMakoAliases(dir: string, sharks: readonly SandboxShark[]): Promise<void> {
  const aliases: Record<string, string> = {};
  for (const shark of sharks)
    aliases[`${shark.manta_storage_id}:80`] = new URL(shark.mako_url).host;
  await writeJson(join(dir, MAKO_ALIASES_FILE), aliases);
}

/** The manager reaches shards (Moray's port 2020) and agents (7878) by their Manta names. */
function managerAliases(sandbox: SandboxDescription): Record<string, string> {
  const aliases: Record<string, string> = {};
  for (const shard of sandbox.shards) aliases[`${shard.name}:2020`] = `${shard.host}:${shard.port}`;
  Object.assign(aliases, bucketsManagerAliases(sandbox.buckets_shards ?? []));
  for (const shark of sandbox.sharks) {
    if (shark.agent_url) aliases[`${shark.manta_storage_id}:7878`] = new URL(shark.agent_url).host;
    // The safe-to-remove audit checks copies on the makos themselves.
    aliases[`${shark.manta_storage_id}:80`] = new URL(shark.mako_url).host;
  }
  return aliases;
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

/** The processes started so far, so a failure half-way can stop them all. */
class Startup {
  readonly processes: SandboxProcess[] = [];
  /**
   * The agents' `auth_token` and the manager's `agent_auth_token`, new for every sandbox: the
   * agents' file routes (orphan deletion) exist only behind a token.
   */
  readonly #agentToken = randomBytes(24).toString('base64url');
  readonly #databases: string[] = [];

  constructor(
    readonly dir: string,
    readonly log: Logger | undefined,
  ) {}

  async shard(
    n: number,
    layout: SandboxLayout,
    adminUrl: string | undefined,
  ): Promise<SandboxShard> {
    const name = shardName(n, layout.domain);
    let storage: string[];
    let databaseUrl: string | undefined;
    if (adminUrl) {
      databaseUrl = await createSandboxDatabase(adminUrl, `shard${n}`);
      this.#databases.push(databaseUrl);
      storage = ['--database-url', databaseUrl];
    } else {
      const dataDir = join(this.dir, 'shards', String(n), 'pgdata');
      await mkdir(dataDir, { recursive: true });
      storage = ['--data-dir', dataDir];
    }
    const service = await this.#start(name, 'sandbox/moray/main', [
      '--name',
      name,
      '--port',
      '0',
      ...storage,
    ]);
    return {
      name,
      host: service.address.host,
      port: service.address.port,
      ...(databaseUrl ? { database_url: databaseUrl } : {}),
    };
  }

  bucketsShard(
    n: number,
    layout: SandboxLayout,
    adminUrl: string | undefined,
  ): Promise<SandboxBucketsShard> {
    return startBucketsShard(n, layout, {
      dir: this.dir,
      adminUrl,
      start: (name, entry, args) => this.#start(name, entry, args),
      createDatabase: async (admin, suffix) => {
        const url = await createSandboxDatabase(admin, suffix);
        this.#databases.push(url);
        return url;
      },
    });
  }

  async mako(n: number, layout: SandboxLayout): Promise<SandboxShark> {
    const id = storageId(n, layout.domain);
    const root = join(this.dir, 'sharks', String(n), 'manta');
    await mkdir(root, { recursive: true });
    // As a real mako's nginx: no Content-MD5 (the agent must hash what it receives), and a
    // connection closed after every response.
    const service = await this.#start(`mako ${id}`, 'sandbox/mako/main', [
      '--root',
      root,
      '--port',
      '0',
      '--no-content-md5',
    ]);
    return {
      manta_storage_id: id,
      datacenter: datacenterOf(n, layout.datacenters),
      mako_url: service.address.url,
      root,
    };
  }

  async storinfo(sharks: readonly SandboxShark[], layout: SandboxLayout): Promise<StartedService> {
    const config = join(this.dir, 'storinfo.json');
    await writeJson(config, {
      sharks: sharks.map((s) => ({
        manta_storage_id: s.manta_storage_id,
        datacenter: s.datacenter,
        root: s.root,
        capacityBytes: layout.sharkCapacityBytes,
      })),
    });
    return this.#start('storinfo', 'sandbox/storinfo/main', ['--config', config, '--port', '0']);
  }

  /** The agent of shark `n`: it reaches the other sharks' makos through host aliases. */
  async agent(n: number, shark: SandboxShark): Promise<string> {
    const home = join(this.dir, 'sharks', String(n));
    const config = join(home, 'agent.json');
    await writeJson(config, {
      server: {
        host: '127.0.0.1',
        port: 0,
        object_root: shark.root,
        state_dir: join(home, 'agent'),
        host_aliases_file: join(this.dir, MAKO_ALIASES_FILE),
        auth_token: this.#agentToken,
      },
      metrics: { enabled: false },
    });
    const service = await this.#start(
      `agent ${shark.manta_storage_id}`,
      'agent/main',
      ['--config', config],
      SERVICE_HEAP_MB.agent,
    );
    return service.address.url;
  }

  async manager(
    sandbox: SandboxDescription,
    adminUrl: string | undefined,
    extra: Record<string, unknown> = {},
  ): Promise<NonNullable<SandboxDescription['manager']>> {
    const home = join(this.dir, 'manager');
    await mkdir(home, { recursive: true });
    let database: Record<string, string>;
    let databaseUrl: string | undefined;
    if (adminUrl) {
      databaseUrl = await createSandboxDatabase(adminUrl, 'manager');
      this.#databases.push(databaseUrl);
      database = { database_url: databaseUrl };
    } else {
      database = { database_dir: join(home, 'pgdata') };
    }
    const config = join(home, 'config.json');
    const base: Record<string, unknown> = {
      domain_name: sandbox.domain,
      shards: sandbox.shards.map((shard) => ({ host: shard.name })),
      ...bucketsManagerConfig(sandbox.buckets_shards ?? []),
      listen_address: '127.0.0.1',
      listen_port: 0,
      metrics_port: 0,
      log_level: 'info',
      storinfo_url: sandbox.storinfo.url,
      // A local Manta's transient faults pass in moments: convergence rounds need not wait long.
      converge_delay_seconds: 1,
      ...database,
      host_aliases: managerAliases(sandbox),
      agent_auth_token: this.#agentToken,
    };
    await writeJson(config, { ...base, ...extra });
    const service = await this.#start(
      'manager',
      'manager/main',
      ['--config', config],
      SERVICE_HEAP_MB.manager,
    );
    return { url: service.address.url, ...(databaseUrl ? { database_url: databaseUrl } : {}) };
  }

  async undo(): Promise<void> {
    for (const proc of [...this.processes].reverse()) {
      await stopProcess(proc.pid).catch((err: Error) =>
        this.log?.error({ err, pid: proc.pid }, 'could not stop a sandbox process'),
      );
    }
    for (const url of this.#databases) {
      await dropSandboxDatabase(url).catch((err: Error) =>
        this.log?.error({ err }, 'could not drop a sandbox database'),
      );
    }
  }

  async #start(
    name: string,
    entry: string,
    args: string[],
    heapMb?: number,
  ): Promise<StartedService> {
    const file = name.replace(/[^A-Za-z0-9.-]+/g, '-');
    const service = await startService({
      name,
      entry: entryPoint(entry),
      args,
      ...(heapMb === undefined ? {} : { env: heapLimitEnv(heapMb) }),
      log: join(this.dir, 'logs', `${file}.log`),
    });
    this.processes.push(service.process);
    this.log?.info(
      { service: name, pid: service.process.pid, url: service.address.url },
      'started',
    );
    return service;
  }
}
