/**
 * Stopping and restarting a running sandbox's processes by pid: a crash (kill -9), a clean
 * stop, and a restart of any service on the port it had, over the same data and config, so
 * its peers find it again where they left it. Shared by the end-to-end tests and the fault
 * campaign.
 */

import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { RebalancerError } from '../../errors.ts';
import {
  type SandboxDescription,
  type SandboxProcess,
  writeSandboxDescription,
} from '../description.ts';
import {
  entryPoint,
  heapLimitEnv,
  isRunning,
  SERVICE_HEAP_MB,
  startService,
  stopProcess,
} from '../process.ts';

export class SandboxControlError extends RebalancerError {
  override readonly name = 'SandboxControlError';
  readonly code = 'SandboxControlError';
}

export class SandboxControl {
  #description: SandboxDescription;

  constructor(
    readonly dir: string,
    description: SandboxDescription,
  ) {
    this.#description = description;
  }

  /** The sandbox as it runs now: restarts change the pids. */
  get description(): SandboxDescription {
    return this.#description;
  }

  process(name: string): SandboxProcess {
    const proc = this.#description.processes.find((p) => p.name === name);
    if (!proc) throw new SandboxControlError(`no process ${name}`);
    return proc;
  }

  isUp(name: string): boolean {
    return isRunning(this.process(name).pid);
  }

  /** kill -9, as a crash; resolves once the process is gone. */
  async crash(name: string): Promise<void> {
    const { pid } = this.process(name);
    if (!isRunning(pid)) return;
    process.kill(pid, 'SIGKILL');
    while (isRunning(pid)) await sleep(20);
  }

  /** SIGTERM and wait (a clean stop). */
  async halt(name: string): Promise<void> {
    await stopProcess(this.process(name).pid);
  }

  /** Starts the manager again with the same config and port. */
  async restartManager(): Promise<void> {
    const url = this.#description.manager?.url;
    if (!url) throw new SandboxControlError('the sandbox has no manager');
    await this.#restart(
      'manager',
      'manager/main',
      ['--config', join(this.dir, 'manager', 'config.json'), '--port', new URL(url).port],
      SERVICE_HEAP_MB.manager,
    );
  }

  /**
   * Starts shark `n`'s agent again on the port it had (the manager's alias points there),
   * with `server` settings added to its config.
   */
  async restartAgent(n: number, server: Record<string, unknown> = {}): Promise<void> {
    const shark = this.#shark(n);
    if (!shark.agent_url) throw new SandboxControlError(`shark ${n} has no agent`);
    const config = join(this.dir, 'sharks', String(n), 'agent.json');
    const parsed = JSON.parse(await readFile(config, 'utf8')) as {
      server: Record<string, unknown>;
    };
    parsed.server = { ...parsed.server, ...server, port: Number(new URL(shark.agent_url).port) };
    await writeFile(config, JSON.stringify(parsed));
    await this.#restart(
      `agent ${shark.manta_storage_id}`,
      'agent/main',
      ['--config', config],
      SERVICE_HEAP_MB.agent,
    );
  }

  /** Starts shard `n` (1-based) again on its port, over the same data. */
  async restartShard(n: number): Promise<void> {
    const shard = this.#description.shards[n - 1];
    if (!shard) throw new SandboxControlError(`no shard ${n}`);
    const storage = shard.database_url
      ? ['--database-url', shard.database_url]
      : ['--data-dir', join(this.dir, 'shards', String(n), 'pgdata')];
    await this.#restart(shard.name, 'sandbox/moray/main', [
      '--name',
      shard.name,
      '--port',
      String(shard.port),
      ...storage,
    ]);
  }

  /** Starts shark `n`'s mako again on its port over its object root (with no faults set). */
  async restartMako(n: number): Promise<void> {
    const shark = this.#shark(n);
    await this.#restart(`mako ${shark.manta_storage_id}`, 'sandbox/mako/main', [
      '--root',
      shark.root,
      '--port',
      new URL(shark.mako_url).port,
      '--no-content-md5',
    ]);
  }

  /** Starts storinfo again with its config on its port. */
  async restartStorinfo(): Promise<void> {
    await this.#restart('storinfo', 'sandbox/storinfo/main', [
      '--config',
      join(this.dir, 'storinfo.json'),
      '--port',
      new URL(this.#description.storinfo.url).port,
    ]);
  }

  #shark(n: number) {
    const shark = this.#description.sharks[n - 1];
    if (!shark) throw new SandboxControlError(`no shark ${n}`);
    return shark;
  }

  async #restart(name: string, entry: string, args: string[], heapMb?: number): Promise<void> {
    const old = this.process(name);
    if (isRunning(old.pid)) {
      throw new SandboxControlError(`${name} (pid ${old.pid}) is still running`);
    }
    const started = await startService({
      name,
      entry: entryPoint(entry),
      args,
      log: old.log,
      // As the sandbox started it: the same V8 heap cap.
      ...(heapMb === undefined ? {} : { env: heapLimitEnv(heapMb) }),
    });
    this.#description = {
      ...this.#description,
      processes: this.#description.processes.map((p) => (p.name === name ? started.process : p)),
    };
    // stopSandbox reads sandbox.json: keep it naming the running pid.
    await writeSandboxDescription(this.dir, this.#description);
  }
}
