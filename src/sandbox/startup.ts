/**
 * How the sandbox starts each of its services (up.ts decides when): the data directories,
 * config files and arguments of every stand-in, agent and the manager, and what was started,
 * so that a failure half-way can stop it all again.
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log/index.ts';
import {
  type SandboxBucketsShard,
  type SandboxDescription,
  type SandboxProcess,
  type SandboxShard,
  type SandboxShark,
  writeJsonFile,
} from './description.ts';
import { datacenterOf, type SandboxLayout, shardName, storageId } from './layout.ts';
import { MANAGER_TEMPLATE, seedPgliteDataDir } from './pglite-template.ts';
import { createSandboxDatabase, dropSandboxDatabase } from './postgres.ts';
import {
  entryPoint,
  heapLimitEnv,
  SERVICE_HEAP_MB,
  type StartedService,
  startService,
  stopProcess,
} from './process.ts';
import { bucketsManagerAliases, bucketsManagerConfig, startBucketsShard } from './up-buckets.ts';

/**
 * The manager's config.json in a sandbox: its shards, storinfo and the agents' token, at
 * `database` (database_url or database_dir) and reaching hosts through `hostAliases`.
 */
export function sandboxManagerConfig(
  sandbox: SandboxDescription,
  where: {
    database: Record<string, string>;
    hostAliases: Record<string, string>;
    agentAuthToken: string;
  },
): Record<string, unknown> {
  return {
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
    ...where.database,
    host_aliases: where.hostAliases,
    agent_auth_token: where.agentAuthToken,
  };
}

export interface ServiceTiming {
  name: string;
  /** From spawning the process to its `listening` record. */
  seconds: number;
  /** When it listened, counted from the start of the sandbox's start-up. */
  at: number;
}

const MAKO_ALIASES_FILE = 'mako-aliases.json';

/** Every agent reads one aliases file: where each storage id's mako listens (port 80). */
export async function writeMakoAliases(
  dir: string,
  sharks: readonly SandboxShark[],
): Promise<void> {
  const aliases: Record<string, string> = {};
  for (const shark of sharks)
    aliases[`${shark.manta_storage_id}:80`] = new URL(shark.mako_url).host;
  await writeJsonFile(join(dir, MAKO_ALIASES_FILE), aliases);
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

/** The processes started so far, so a failure half-way can stop them all. */
export class Startup {
  readonly processes: SandboxProcess[] = [];
  /**
   * The agents' `auth_token` and the manager's `agent_auth_token`, new for every sandbox: the
   * agents' file routes (orphan deletion) exist only behind a token.
   */
  readonly #agentToken = randomBytes(24).toString('base64url');
  readonly #databases: string[] = [];

  readonly #began = performance.now();

  constructor(
    readonly dir: string,
    readonly log: Logger | undefined,
    readonly onStarted: ((timing: ServiceTiming) => void) | undefined,
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
      await seedPgliteDataDir(dataDir);
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
    // connection closed after every response unless the layout keeps them open.
    const service = await this.#start(`mako ${id}`, 'sandbox/mako/main', [
      '--root',
      root,
      '--port',
      '0',
      '--no-content-md5',
      ...(layout.makoKeepAlive ? ['--keep-alive'] : []),
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
    await writeJsonFile(config, {
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
    await writeJsonFile(config, {
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
      // As its service manifest must: two libuv threads per parallel download (the default
      // max_downloads, 4 workers x 4), or downloads queue on each other's fsyncs.
      { UV_THREADPOOL_SIZE: '32' },
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
      database = { database_dir: await this.managerDataDir() };
    }
    const config = join(home, 'config.json');
    const base = sandboxManagerConfig(sandbox, {
      database,
      hostAliases: managerAliases(sandbox),
      agentAuthToken: this.#agentToken,
    });
    await writeJsonFile(config, { ...base, ...extra });
    const service = await this.#start(
      'manager',
      'manager/main',
      ['--config', config],
      SERVICE_HEAP_MB.manager,
    );
    return { url: service.address.url, ...(databaseUrl ? { database_url: databaseUrl } : {}) };
  }

  #managerDataDir: Promise<string> | undefined;

  /** The manager's PGlite directory, filled from the template: begun early, off its path. */
  managerDataDir(): Promise<string> {
    this.#managerDataDir ??= (async () => {
      const dataDir = join(this.dir, 'manager', 'pgdata');
      await mkdir(dataDir, { recursive: true });
      await seedPgliteDataDir(dataDir, MANAGER_TEMPLATE);
      return dataDir;
    })();
    return this.#managerDataDir;
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
    env: NodeJS.ProcessEnv = {},
  ): Promise<StartedService> {
    const file = name.replace(/[^A-Za-z0-9.-]+/g, '-');
    const spawned = performance.now();
    const service = await startService({
      name,
      entry: entryPoint(entry),
      args,
      env: { ...env, ...(heapMb === undefined ? {} : heapLimitEnv(heapMb)) },
      log: join(this.dir, 'logs', `${file}.log`),
    });
    this.processes.push(service.process);
    const listened = performance.now();
    const timing = {
      name,
      seconds: Math.round(listened - spawned) / 1000,
      at: Math.round(listened - this.#began) / 1000,
    };
    this.onStarted?.(timing);
    this.log?.info(
      { service: name, pid: service.process.pid, url: service.address.url, ...timing },
      'started',
    );
    return service;
  }
}
