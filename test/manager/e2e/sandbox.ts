/**
 * Helpers of the manager's end-to-end tests: a sandbox (moray shards, makos, storinfo, one
 * agent per shark, a manager, each a real child process), objects placed on chosen sharks,
 * user writes, mako faults, and stopping / restarting the sandbox's processes by pid.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ManagerClient } from '../../../src/adm/client.ts';
import { FINAL_JOB_STATE_NAMES, type JobStatus } from '../../../src/api/manager.ts';
import { md5Base64 } from '../../../src/manta/index.ts';
import { EtagConflictError, MorayClient } from '../../../src/moray/index.ts';
import {
  type SandboxDescription,
  type SandboxProcess,
  writeSandboxDescription,
} from '../../../src/sandbox/description.ts';
import { SandboxControl } from '../../../src/sandbox/faults/control.ts';
import type { SandboxLayout } from '../../../src/sandbox/layout.ts';
import type { MakoFaultsInput } from '../../../src/sandbox/mako/faults.ts';
import { entryPoint, isRunning, startService } from '../../../src/sandbox/process.ts';
import { shardIndexOfVnode } from '../../../src/sandbox/ring.ts';
import { objectRecord } from '../../../src/sandbox/seed/record.ts';
import { Seeder } from '../../../src/sandbox/seed/seeder.ts';
import { startSandbox, stopSandbox } from '../../../src/sandbox/up.ts';
import type { ObjectSnapshot, ObjectState } from '../../../src/sandbox/verify.ts';
import { testPostgresUrl } from '../../support/database.ts';

export const TERMINAL_STATES: readonly string[] = FINAL_JOB_STATE_NAMES;

export class E2ESandbox {
  readonly manager: ManagerClient;
  readonly #clients: MorayClient[];
  #control: SandboxControl;

  private constructor(
    readonly dir: string,
    sandbox: SandboxDescription,
    readonly layout: SandboxLayout,
  ) {
    this.#control = new SandboxControl(dir, sandbox);
    this.manager = new ManagerClient(this.managerUrl);
    this.#clients = sandbox.shards.map(
      (s) =>
        new MorayClient({ host: s.host, port: s.port, connections: 1, healthCheckIntervalMs: 0 }),
    );
  }

  /** `managerOptions`: top-level keys of the manager's config.json over the sandbox's. */
  static async start(
    name: string,
    layout: SandboxLayout,
    managerOptions?: Record<string, unknown>,
  ): Promise<E2ESandbox> {
    const dir = await mkdtemp(join(tmpdir(), `e2e-${name}-`));
    try {
      const sandbox = await startSandbox({
        dir,
        layout,
        databaseUrl: testPostgresUrl(),
        ...(managerOptions ? { managerOptions } : {}),
      });
      return new E2ESandbox(dir, sandbox, layout);
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** The sandbox as it runs now (restarts change the pids). */
  get sandbox(): SandboxDescription {
    return this.#control.description;
  }

  get managerUrl(): string {
    const url = this.sandbox.manager?.url;
    if (!url) throw new Error('the sandbox has no manager');
    return url;
  }

  /** Stops every process, drops the databases and removes the directory. */
  async stop(): Promise<void> {
    await Promise.all(this.#clients.map((c) => c.close()));
    await stopSandbox(this.dir);
    await rm(this.dir, { recursive: true, force: true });
  }

  shark(n: number): string {
    return `${n}.stor.${this.layout.domain}`;
  }

  datacenterOf(id: string): string {
    const shark = this.sandbox.sharks.find((s) => s.manta_storage_id === id);
    if (!shark) throw new Error(`no shark ${id}`);
    return shark.datacenter;
  }

  #shardClient(key: string): MorayClient {
    // The seeder's ring: the shard is the record's vnode modulo the shard count.
    const record = objectRecord({
      owner: 'x',
      dirname: key.slice(0, key.lastIndexOf('/')),
      name: key.slice(key.lastIndexOf('/') + 1),
      objectId: 'x',
      contentLength: 0,
      contentMD5: '',
      sharks: [],
      mtime: 0,
    });
    return this.#clients[shardIndexOfVnode(record.vnode, this.#clients.length)] as MorayClient;
  }

  /**
   * Objects with copies on exactly the given sharks: a file on each, and the record.
   * `contentLength` may claim more bytes than the file holds (placement tests).
   */
  async putObjects(
    specs: readonly { sharks: readonly string[]; size?: number; contentLength?: number }[],
    owner = randomUUID(),
  ): Promise<string[]> {
    const seeder = new Seeder(
      this.#clients.map((client, i) => ({
        name: this.sandbox.shards[i]?.name ?? String(i),
        batch: (requests) => client.batch(requests),
      })),
      this.sandbox.sharks,
    );
    const objects = specs.map((spec) => {
      const content = randomBytes(spec.size ?? 1024);
      return {
        content,
        record: objectRecord({
          owner,
          dirname: `/${owner}/stor/e2e`,
          name: randomUUID(),
          objectId: randomUUID(),
          contentLength: spec.contentLength ?? content.length,
          contentMD5: md5Base64(content),
          sharks: spec.sharks.map((id) => ({
            datacenter: this.datacenterOf(id),
            manta_storage_id: id,
          })),
          mtime: Date.now(),
        }),
      };
    });
    await seeder.store(objects);
    await seeder.flush();
    return objects.map((o) => o.record.key);
  }

  /** What a user's PUT does: a new object id and content on `sharks`, the record replaced. */
  async overwrite(object: ObjectState): Promise<void> {
    const client = this.#shardClient(object.key);
    const current = await client.getObject('manta', object.key);
    const version = await this.#newVersion(object.owner, object.sharks, 2048);
    await client.putObject('manta', object.key, { ...current.value, ...version });
  }

  /**
   * What a cron's rewrite of a key does, as muskie would: new bytes under a new object id on
   * the sharks the record names now, the record replaced only if it is still the one read (a
   * rewrite racing the rebalancer reads again). Returns the new object id.
   */
  async rewrite(key: string): Promise<string> {
    const client = this.#shardClient(key);
    for (;;) {
      const current = await client.getObject('manta', key);
      const value = current.value as { owner: string; sharks: { manta_storage_id: string }[] };
      const sharks = value.sharks.map((s) => s.manta_storage_id);
      const version = await this.#newVersion(value.owner, sharks, 1024);
      try {
        const record = { ...current.value, ...version };
        await client.putObject('manta', key, record, { etag: current._etag });
        return version.objectId;
      } catch (err) {
        if (!(err instanceof EtagConflictError)) throw err;
      }
    }
  }

  /** A new version's files (random bytes) on `sharks`, and its record fields. */
  async #newVersion(owner: string, sharks: readonly string[], size: number) {
    const content = randomBytes(size);
    const objectId = randomUUID();
    for (const id of sharks) {
      const shark = this.sandbox.sharks.find((s) => s.manta_storage_id === id);
      if (!shark) throw new Error(`no shark ${id}`);
      await writeFile(join(shark.root, owner, objectId), content);
    }
    return {
      objectId,
      etag: objectId,
      contentLength: content.length,
      contentMD5: md5Base64(content),
      mtime: Date.now(),
    };
  }

  /**
   * What a user's PUT of the same bytes does: a new object id whose files (identical content,
   * same MD5) are written on the record's sharks, and the record replaced. The old files stay.
   */
  async reupload(object: ObjectState): Promise<void> {
    const client = this.#shardClient(object.key);
    const current = await client.getObject('manta', object.key);
    const objectId = randomUUID();
    for (const id of object.sharks) {
      const shark = this.sandbox.sharks.find((s) => s.manta_storage_id === id);
      if (!shark) throw new Error(`no shark ${id}`);
      const content = await readFile(join(shark.root, object.owner, object.objectId));
      await writeFile(join(shark.root, object.owner, objectId), content);
    }
    await client.putObject('manta', object.key, {
      ...current.value,
      objectId,
      etag: objectId,
      mtime: Date.now(),
    });
  }

  /** What `mln` does: a new key whose record names the same objectId (and its copies). */
  async snaplink(object: ObjectState, name = randomUUID()): Promise<string> {
    const source = await this.getRecord(object.key);
    const dirname = object.key.slice(0, object.key.lastIndexOf('/'));
    const record = objectRecord({
      owner: object.owner,
      dirname,
      name,
      objectId: object.objectId,
      contentLength: Number(source.contentLength),
      contentMD5: object.contentMD5,
      sharks: source.sharks as { datacenter: string; manta_storage_id: string }[],
      mtime: Date.now(),
    });
    await this.#shardClient(record.key).putObject('manta', record.key, {
      ...record,
      createdFrom: object.key,
    });
    return record.key;
  }

  async deleteObject(key: string): Promise<void> {
    await this.#shardClient(key).delObject('manta', key);
  }

  async getRecord(key: string): Promise<Record<string, unknown>> {
    return (await this.#shardClient(key).getObject('manta', key)).value;
  }

  /** Sets the faults of the named sharks' makos (every mako when absent). */
  async setMakoFaults(faults: MakoFaultsInput, sharks?: readonly string[]): Promise<void> {
    for (const shark of this.sandbox.sharks) {
      if (sharks && !sharks.includes(shark.manta_storage_id)) continue;
      const res = await fetch(`${shark.mako_url}/_sandbox/faults`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(faults),
      });
      if (!res.ok) throw new Error(`mako faults: ${res.status} ${await res.text()}`);
    }
  }

  async clearMakoFaults(): Promise<void> {
    await this.setMakoFaults({});
  }

  async evacuate(n: number): Promise<string> {
    return this.manager.createEvacuate(this.shark(n), undefined);
  }

  /** Polls the job until `done` holds (default: a terminal state). */
  async waitForJob(
    id: string,
    done: (status: JobStatus) => boolean = (s) => TERMINAL_STATES.includes(s.state),
    timeoutMs = 120_000,
  ): Promise<JobStatus> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await this.manager.get(id);
      if (done(status)) return status;
      if (Date.now() > deadline) {
        throw new Error(
          `job ${id} still not done after ${timeoutMs} ms: ${JSON.stringify(status)}`,
        );
      }
      await sleep(100);
    }
  }

  // --- processes (src/sandbox/faults/control.ts) ---------------------------------------

  process(name: string): SandboxProcess {
    return this.#control.process(name);
  }

  /** The log lines of a process so far. */
  async logLines(name: string): Promise<string[]> {
    return (await readFile(this.process(name).log, 'utf8')).split('\n');
  }

  /** kill -9, as a crash. */
  async crash(name: string): Promise<void> {
    await this.#control.crash(name);
  }

  /** SIGTERM and wait (a clean stop). */
  async halt(name: string): Promise<void> {
    await this.#control.halt(name);
  }

  /** Starts the manager again with the same config and port. */
  async restartManager(): Promise<void> {
    await this.#control.restartManager();
  }

  /**
   * Starts shark `n`'s agent again on the port it had (the manager's alias points there),
   * with `server` settings added to its config.
   */
  async restartAgent(n: number, server: Record<string, unknown> = {}): Promise<void> {
    await this.#control.restartAgent(n, server);
  }

  /** Starts shard `n` (1-based) again on its port, over the same data. */
  async restartShard(n: number): Promise<void> {
    await this.#control.restartShard(n);
  }

  /**
   * Starts buckets shard `n` (1-based, stopped) again on its port over the same data, hosting
   * `vnodes`: what the manager meets when a vnode moves to another shard after discovery.
   */
  async restartBucketsShard(n: number, vnodes: readonly number[]): Promise<void> {
    const shard = this.sandbox.buckets_shards?.[n - 1];
    if (!shard) throw new Error(`no buckets shard ${n}`);
    const old = this.process(shard.name);
    if (isRunning(old.pid)) throw new Error(`${shard.name} (pid ${old.pid}) is still running`);
    const storage = shard.database_url
      ? ['--database-url', shard.database_url]
      : ['--data-dir', join(this.dir, 'buckets-shards', String(n), 'pgdata')];
    const started = await startService({
      name: shard.name,
      entry: entryPoint('sandbox/mdapi/main'),
      args: [
        '--name',
        shard.name,
        '--port',
        String(shard.port),
        '--vnodes',
        vnodes.join(','),
        '--discovery-rpcs',
        ...storage,
      ],
      log: old.log,
    });
    const description: SandboxDescription = {
      ...this.sandbox,
      processes: this.sandbox.processes.map((p) => (p.name === shard.name ? started.process : p)),
    };
    // `stop` (stopSandbox) reads sandbox.json: it must name the running pid.
    await writeSandboxDescription(this.dir, description);
    this.#control = new SandboxControl(this.dir, description);
  }
}

/**
 * The skip reasons an object on `evacuated` must get, by the spec's placement rules; a single
 * copy moves from the evacuated shark unless the job skips them.
 */
export function expectedSkip(
  object: ObjectState,
  evacuated: string,
  sandbox: E2ESandbox,
  contentLength: (key: string) => number,
  singleCopies: 'copy' | 'skip' = 'copy',
): string | undefined {
  const others = object.sharks.filter((s) => s !== evacuated);
  if (others.length === 0 && singleCopies === 'skip') return 'source_is_evac_shark';
  const evacDc = sandbox.datacenterOf(evacuated);
  const copyDcs = new Set(others.map((s) => sandbox.datacenterOf(s)));
  const candidates = sandbox.sandbox.sharks.filter(
    (s) =>
      s.manta_storage_id !== evacuated &&
      !object.sharks.includes(s.manta_storage_id) &&
      (s.datacenter === evacDc || !copyDcs.has(s.datacenter)),
  );
  if (candidates.length === 0) return 'object_already_in_datacenter';
  if (contentLength(object.key) > sandbox.layout.sharkCapacityBytes) {
    return 'destination_insufficient_space';
  }
  return undefined;
}

/**
 * A sandbox of one domain (`<name>.test`, 2 shards, one datacenter, 1 GiB sharks unless
 * `layout` says otherwise) started before the suite's tests and stopped after them.
 */
export function useSandbox(name: string, layout: Partial<SandboxLayout> = {}): () => E2ESandbox {
  let e2e: E2ESandbox | undefined;
  before(async () => {
    e2e = await E2ESandbox.start(name, {
      domain: `${name}.test`,
      shards: 2,
      sharks: 4,
      datacenters: 1,
      sharkCapacityBytes: 1024 ** 3,
      ...layout,
    });
  });
  after(async () => {
    await e2e?.stop();
  });
  return () => {
    if (!e2e) throw new Error(`the ${name} sandbox did not start`);
    return e2e;
  };
}

/** The objects of `snapshot` that name `shark`. */
export function objectsOn(snapshot: ObjectSnapshot, shark: string): ObjectState[] {
  return [...snapshot.values()].filter((o) => o.sharks.includes(shark));
}

/** Counts by value. */
export function tally(values: Iterable<string>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}
