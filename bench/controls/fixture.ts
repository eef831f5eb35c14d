/**
 * The controls benchmark's sandbox: one datacenter, source sharks (one per phase) that the
 * manager's blocklist keeps from ever being destinations, so no phase's moves land on a later
 * phase's shark and every job holds exactly what was seeded for it; destination sharks that
 * also hold each object's second copy. Agents can be restarted with a download cap and their
 * metrics served.
 */
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ManagerClient } from '../../src/adm/client.ts';
import { md5Base64 } from '../../src/manta/index.ts';
import { MorayClient } from '../../src/moray/index.ts';
import type { SandboxShark } from '../../src/sandbox/description.ts';
import { SandboxControl } from '../../src/sandbox/faults/control.ts';
import { storageId } from '../../src/sandbox/layout.ts';
import { objectRecord } from '../../src/sandbox/seed/record.ts';
import { Seeder, type SeedObject } from '../../src/sandbox/seed/seeder.ts';
import { startSandbox, stopSandbox } from '../../src/sandbox/up.ts';

const execFileAsync = promisify(execFile);
const DOMAIN = 'controls.test';
const SEED_CHUNK = 64;

export interface FixtureOptions {
  pgUrl: string;
  /** Sharks 1..sources are evacuated, one per phase, and never destinations. */
  sources: number;
  destinations: number;
  log: (message: string) => void;
}

export class ControlsFixture {
  readonly manager: ManagerClient;
  readonly #clients: MorayClient[];
  readonly #control: SandboxControl;
  readonly #log: (message: string) => void;
  #metricsEnabled = false;

  private constructor(
    readonly dir: string,
    control: SandboxControl,
    readonly sources: number,
    log: (message: string) => void,
  ) {
    this.#control = control;
    this.#log = log;
    const { description } = control;
    if (!description.manager) throw new Error('the sandbox has no manager');
    this.manager = new ManagerClient(description.manager.url);
    this.#clients = description.shards.map(
      (s) =>
        new MorayClient({ host: s.host, port: s.port, connections: 2, healthCheckIntervalMs: 0 }),
    );
  }

  static async start(options: FixtureOptions): Promise<ControlsFixture> {
    const dir = await mkdtemp(join(tmpdir(), 'bench-controls-'));
    const sharks = options.sources + options.destinations;
    const blocklist = Array.from({ length: options.sources }, (_, i) => storageId(i + 1, DOMAIN));
    options.log(`starting a sandbox in ${dir}: ${sharks} sharks, ${blocklist.length} blocked`);
    const description = await startSandbox({
      dir,
      layout: {
        domain: DOMAIN,
        shards: 2,
        sharks,
        datacenters: 1,
        sharkCapacityBytes: 512 * 1024 ** 3,
      },
      databaseUrl: options.pgUrl,
      managerOptions: { options: { blocklist } },
    });
    return new ControlsFixture(
      dir,
      new SandboxControl(dir, description),
      options.sources,
      options.log,
    );
  }

  get sharks(): readonly SandboxShark[] {
    return this.#control.description.sharks;
  }

  shark(n: number): string {
    return storageId(n, DOMAIN);
  }

  /** The destination sharks' numbers (those after the sources). */
  get destinations(): number[] {
    return this.sharks.map((_, i) => i + 1).filter((n) => n > this.sources);
  }

  /**
   * `count` objects of `size` random bytes on shark `source`, each with a second copy on a
   * destination shark (round-robin). Returns the seconds it took.
   */
  async seed(source: number, count: number, size: number, label: string): Promise<number> {
    const started = performance.now();
    const seeder = new Seeder(
      this.#clients.map((client, i) => ({
        name: this.#control.description.shards[i]?.name ?? String(i),
        batch: (requests) => client.batch(requests),
      })),
      this.sharks,
    );
    const evacuated = this.sharks[source - 1];
    const others = this.destinations.map((n) => this.sharks[n - 1] as SandboxShark);
    if (!evacuated || others.length === 0) throw new Error(`no shark ${source} or destinations`);
    const owner = randomUUID();
    const now = Date.now();
    let chunk: SeedObject[] = [];
    for (let i = 0; i < count; i++) {
      const content = randomBytes(size);
      const other = others[i % others.length] as SandboxShark;
      chunk.push({
        content,
        record: objectRecord({
          owner,
          dirname: `/${owner}/stor/${label}`,
          name: `o${i}`,
          objectId: randomUUID(),
          contentLength: size,
          contentMD5: md5Base64(content),
          sharks: [evacuated, other].map((s) => ({
            datacenter: s.datacenter,
            manta_storage_id: s.manta_storage_id,
          })),
          mtime: now,
        }),
      });
      if (chunk.length === SEED_CHUNK) {
        await seeder.store(chunk);
        chunk = [];
      }
    }
    if (chunk.length > 0) await seeder.store(chunk);
    await seeder.flush();
    const seconds = (performance.now() - started) / 1000;
    this.#log(
      `seeded ${count} objects of ${size} bytes on shark ${source} in ${seconds.toFixed(1)} s`,
    );
    return seconds;
  }

  /**
   * Restarts every agent with `max_bytes_per_second` (0: unlimited) and its metrics served on
   * a port of its own; resolves with each agent's metrics URL by shark number.
   */
  async restartAgents(maxBytesPerSecond: number): Promise<Map<number, string>> {
    const urls = new Map<number, string>();
    const numbers = this.sharks.map((_, i) => i + 1);
    await Promise.all(numbers.map((n) => this.#control.halt(`agent ${this.shark(n)}`)));
    // One at a time: each restart rewrites the sandbox's description.
    for (const n of numbers) {
      const name = `agent ${this.shark(n)}`;
      if (!this.#metricsEnabled) await this.#enableMetrics(n);
      await this.#control.restartAgent(n, { max_bytes_per_second: maxBytesPerSecond });
      urls.set(n, await this.#metricsUrl(name));
    }
    this.#metricsEnabled = true;
    this.#log(`agents restarted with max_bytes_per_second ${maxBytesPerSecond}`);
    return urls;
  }

  async #enableMetrics(n: number): Promise<void> {
    const config = join(this.dir, 'sharks', String(n), 'agent.json');
    const parsed = JSON.parse(await readFile(config, 'utf8')) as Record<string, unknown>;
    parsed.metrics = { enabled: true, host: '127.0.0.1', port: 0 };
    await writeFile(config, JSON.stringify(parsed));
  }

  /** The metrics URL the running agent `name` logged when it started listening. */
  async #metricsUrl(name: string): Promise<string> {
    const proc = this.#control.process(name);
    const lines = (await readFile(proc.log, 'utf8')).split('\n');
    for (const line of lines.reverse()) {
      if (!line.includes('"metrics_url"')) continue;
      const record = JSON.parse(line) as { pid?: number; metrics_url?: string };
      if (record.pid === proc.pid && record.metrics_url) return record.metrics_url;
    }
    throw new Error(`${name} (pid ${proc.pid}) logged no metrics_url; see ${proc.log}`);
  }

  /**
   * Stops everything; the directory goes too unless `keepLogs`, which removes only the
   * sharks' object roots (gigabytes) and keeps the services' logs.
   */
  async stop(keepLogs: boolean): Promise<void> {
    await Promise.all(this.#clients.map((c) => c.close()));
    await stopSandbox(this.dir);
    const paths = keepLogs ? this.sharks.map((s) => s.root) : [this.dir];
    // rm(1): fs.rm is slow on many thousands of files.
    await execFileAsync('rm', ['-rf', ...paths]);
  }
}
