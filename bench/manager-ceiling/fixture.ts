/**
 * The manager-ceiling benchmark's world: the sandbox's Moray shard stand-ins (2 shards on real
 * PostgreSQL), makos and storinfo, started by startSandbox without agents or manager; the
 * load-generator agents (load-agents.ts) in one child process; and the real manager from
 * dist/, started as the sandbox starts it (startService, its heap cap, the sandbox's config
 * keys) but with `host_aliases` sending `<storage id>:7878` to the load agents. Everything
 * started is undone in reverse by close(), on success and failure alike: processes stopped by
 * pid, databases dropped, the temporary directory removed.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { SandboxDescription } from '../../src/sandbox/description.ts';
import { createSandboxDatabase, dropSandboxDatabase } from '../../src/sandbox/postgres.ts';
import {
  entryPoint,
  heapLimitEnv,
  SERVICE_HEAP_MB,
  startService,
  stopProcess,
} from '../../src/sandbox/process.ts';
import { sandboxManagerConfig } from '../../src/sandbox/startup.ts';
import { startSandbox, stopSandbox } from '../../src/sandbox/up.ts';
import { LoadAgentsProcess } from './load-agents.ts';

const execFileAsync = promisify(execFile);
const DOMAIN = 'ceiling.test';
const AGENT_PORT = 7878;
const MORAY_PORT = 2020;

export interface FixtureOptions {
  pgUrl: string;
  sharks: number;
  datacenters: number;
  /** Top-level keys over the manager's config.json (as bench/evacuate's --manager-config). */
  managerConfig: Record<string, unknown>;
  /** Extra NODE_OPTIONS and environment of the manager (a CPU profiler preload). */
  managerEnv?: { nodeOptions: string; env: NodeJS.ProcessEnv } | undefined;
  log: (message: string) => void;
}

function withExtra(env: NodeJS.ProcessEnv, extra: FixtureOptions['managerEnv']): NodeJS.ProcessEnv {
  if (!extra) return env;
  const { nodeOptions } = extra;
  const NODE_OPTIONS = env.NODE_OPTIONS ? `${env.NODE_OPTIONS} ${nodeOptions}` : nodeOptions;
  return { ...env, ...extra.env, NODE_OPTIONS };
}

export class CeilingFixture {
  sandbox: SandboxDescription | undefined;
  agents: LoadAgentsProcess | undefined;
  managerUrl: string | undefined;
  managerPid: number | undefined;
  managerDatabaseUrl: string | undefined;
  readonly #undo: { what: string; run: () => Promise<unknown> }[] = [];
  #closed = false;

  private constructor(
    readonly dir: string,
    readonly pgUrl: string,
    private readonly log: (message: string) => void,
  ) {}

  static async start(options: FixtureOptions): Promise<CeilingFixture> {
    const dir = await mkdtemp(join(tmpdir(), 'bench-manager-ceiling-'));
    const fixture = new CeilingFixture(dir, options.pgUrl, options.log);
    fixture.#undo.push({
      what: `remove ${dir}`,
      run: () => execFileAsync('rm', ['-rf', dir]),
    });
    try {
      await fixture.#start(options);
    } catch (err) {
      options.log(`the manager's last log lines:\n${await fixture.managerLogTail()}`);
      await fixture.close();
      throw err;
    }
    return fixture;
  }

  async #start(options: FixtureOptions): Promise<void> {
    const { dir } = this;
    this.log(`starting the sandbox's shards, makos and storinfo in ${dir}`);
    // startSandbox undoes itself when it fails; once it returns, stopSandbox undoes it.
    const sandbox = await startSandbox({
      dir,
      layout: {
        domain: DOMAIN,
        shards: 2,
        sharks: options.sharks,
        datacenters: options.datacenters,
        sharkCapacityBytes: 512 * 1024 ** 3,
      },
      databaseUrl: options.pgUrl,
      rebalancer: false,
    });
    this.sandbox = sandbox;
    this.#undo.push({ what: 'stop the sandbox', run: () => stopSandbox(dir) });

    const token = randomBytes(24).toString('base64url');
    const sharks = sandbox.sharks.map((s) => s.manta_storage_id);
    this.agents = await LoadAgentsProcess.start(sharks, token);
    const agents = this.agents;
    this.#undo.push({ what: 'stop the load agents', run: () => agents.stop() });
    this.log(`load agents (pid ${agents.pid}) on ports ${Object.values(agents.ports).join(', ')}`);

    const databaseUrl = await createSandboxDatabase(options.pgUrl, 'manager');
    this.managerDatabaseUrl = databaseUrl;
    this.#undo.push({
      what: 'drop the manager database',
      run: () => dropSandboxDatabase(databaseUrl),
    });
    const home = join(dir, 'manager');
    await mkdir(home, { recursive: true });
    const config = join(home, 'config.json');
    const base = sandboxManagerConfig(sandbox, {
      database: { database_url: databaseUrl },
      hostAliases: this.#aliases(sandbox, agents.ports),
      agentAuthToken: token,
    });
    await writeFile(config, `${JSON.stringify({ ...base, ...options.managerConfig }, null, 2)}\n`);
    const service = await startService({
      name: 'manager',
      entry: entryPoint('manager/main'),
      args: ['--config', config],
      env: withExtra(heapLimitEnv(SERVICE_HEAP_MB.manager), options.managerEnv),
      log: join(dir, 'logs', 'manager.log'),
    });
    const pid = service.process.pid;
    this.#undo.push({ what: 'stop the manager', run: () => stopProcess(pid) });
    this.managerPid = pid;
    this.managerUrl = service.address.url;
    this.log(`manager pid ${pid} at ${this.managerUrl}`);
  }

  /** Shards at their Moray port, agents at 7878 → the load agents, makos at 80. */
  #aliases(sandbox: SandboxDescription, ports: Record<string, number>): Record<string, string> {
    const aliases: Record<string, string> = {};
    for (const shard of sandbox.shards) {
      aliases[`${shard.name}:${MORAY_PORT}`] = `${shard.host}:${shard.port}`;
    }
    for (const shark of sandbox.sharks) {
      const port = ports[shark.manta_storage_id];
      if (port === undefined) throw new Error(`no load agent for ${shark.manta_storage_id}`);
      aliases[`${shark.manta_storage_id}:${AGENT_PORT}`] = `127.0.0.1:${port}`;
      aliases[`${shark.manta_storage_id}:80`] = new URL(shark.mako_url).host;
    }
    return aliases;
  }

  /** PIDs of the Moray shard stand-ins (the sandbox names them by their shard names). */
  morayPids(): number[] {
    const names = new Set(this.sandbox?.shards.map((s) => s.name));
    return (this.sandbox?.processes ?? []).filter((p) => names.has(p.name)).map((p) => p.pid);
  }

  /** The last lines of the manager's log (it says why a run failed). */
  async managerLogTail(lines = 20): Promise<string> {
    try {
      const text = await readFile(join(this.dir, 'logs', 'manager.log'), 'utf8');
      return text.trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no manager log)';
    }
  }

  pidOf(name: string): number | undefined {
    return this.sandbox?.processes.find((p) => p.name === name)?.pid;
  }

  /** Undoes everything started, last first; an undo that fails is logged, the rest still run. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const step of this.#undo.reverse()) {
      try {
        await step.run();
      } catch (err) {
        this.log(`could not ${step.what}: ${(err as Error).message}`);
      }
    }
  }
}
