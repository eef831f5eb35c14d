/**
 * The demo's objects: a bulk seeded the way a Manta fills up, plus hand-made edge cases whose
 * fate the demo knows in advance.
 */
import { randomBytes } from 'node:crypto';
import { RebalancerError } from '../../errors.ts';
import { md5Base64 } from '../../manta/index.ts';
import { MorayClient } from '../../moray/index.ts';
import type { SandboxDescription, SandboxShark } from '../description.ts';
import { shardIndexOfVnode } from '../ring.ts';
import { SeededRandom } from '../seed/random.ts';
import { directoryRecord, objectRecord } from '../seed/record.ts';
import { seedSandbox } from '../seed/run.ts';
import { Seeder } from '../seed/seeder.ts';

export interface DemoSeedPlan {
  objects: number;
  evacuated: string;
  seed: number;
  minSize: number;
  maxSize: number;
  /** Objects whose only copy is on the evacuated shark (copied from it by the job). */
  singleCopyOnEvacuated: number;
  /** Size of the object the user overwrites during the job (its download is slowed). */
  overwriteSize: number;
  onProgress?: (seeded: number) => void;
}

export interface DemoObjects {
  /** Keys of the objects whose only copy is on the evacuated shark. */
  singleCopy: string[];
  /** The object a user overwrites while the job runs. */
  overwrite: DemoObject;
}

/** A hand-made object: enough to find its files and its record again. */
export interface DemoObject {
  key: string;
  owner: string;
  objectId: string;
  shardIndex: number;
  sharks: string[];
}

export class DemoSeedError extends RebalancerError {
  override readonly name = 'DemoSeedError';
  readonly code = 'demo_seed_failed';
}

/**
 * Seeds `plan.objects` objects with 1–3 copies where no single-copy object is on the evacuated
 * shark (so that every bulk object can be evacuated), then the edge cases.
 */
export async function seedDemo(
  sandbox: SandboxDescription,
  plan: DemoSeedPlan,
): Promise<DemoObjects> {
  const evacuated = sharkById(sandbox, plan.evacuated);
  const others = sandbox.sharks.filter((s) => s !== evacuated);
  if (others.length < 3) {
    throw new DemoSeedError('the demo needs at least 4 sharks (3 copies besides the evacuated)');
  }
  const single = Math.round(plan.objects / 3);
  const common = { minSize: plan.minSize, maxSize: plan.maxSize };
  let done = 0;
  const progress = (n: number) => plan.onProgress?.(done + n);
  // Two to three copies anywhere, then single copies anywhere but on the evacuated shark.
  await seedSandbox(sandbox, {
    ...common,
    objects: plan.objects - single,
    minCopies: 2,
    maxCopies: 3,
    seed: plan.seed,
    onProgress: progress,
  });
  done = plan.objects - single;
  await seedSandbox(sandbox, {
    ...common,
    objects: single,
    minCopies: 1,
    maxCopies: 1,
    sharks: others.map((s) => s.manta_storage_id),
    seed: plan.seed + 1,
    onProgress: progress,
  });
  const edge = new EdgeObjects(sandbox, new SeededRandom(plan.seed + 2));
  try {
    const singleCopy: string[] = [];
    for (let i = 0; i < plan.singleCopyOnEvacuated; i++) {
      singleCopy.push((await edge.put(`single-copy-${i}`, 4096, [evacuated])).key);
    }
    // Two copies in two datacenters, so the object is evacuated from the second one.
    const partner = others.find((s) => s.datacenter !== evacuated.datacenter) ?? others[0];
    const overwrite = await edge.put('user-overwrite', plan.overwriteSize, [
      evacuated,
      partner as SandboxShark,
    ]);
    return { singleCopy, overwrite };
  } finally {
    await edge.close();
  }
}

function sharkById(sandbox: SandboxDescription, id: string): SandboxShark {
  const shark = sandbox.sharks.find((s) => s.manta_storage_id === id);
  if (!shark) {
    throw new DemoSeedError(
      `no shark ${id} in the sandbox (${sandbox.sharks.map((s) => s.manta_storage_id).join(', ')})`,
    );
  }
  return shark;
}

/** Writes single objects with chosen copies, under one owner's `stor/demo` directory. */
class EdgeObjects {
  readonly #clients: MorayClient[];
  readonly #seeder: Seeder;
  readonly #owner: string;
  #directoriesMade = false;

  constructor(
    private readonly sandbox: SandboxDescription,
    private readonly random: SeededRandom,
  ) {
    this.#owner = random.uuid();
    this.#clients = sandbox.shards.map(
      (shard) => new MorayClient({ host: shard.host, port: shard.port, connections: 1 }),
    );
    this.#seeder = new Seeder(
      this.#clients.map((client, i) => ({
        name: sandbox.shards[i]?.name ?? `shard ${i + 1}`,
        batch: (requests) => client.batch(requests),
      })),
      sandbox.sharks,
    );
  }

  get directory(): string {
    return `/${this.#owner}/stor/demo`;
  }

  async put(name: string, size: number, sharks: readonly SandboxShark[]): Promise<DemoObject> {
    if (!this.#directoriesMade) await this.#makeDirectories();
    const content = randomBytes(size);
    const objectId = this.random.uuid();
    const record = objectRecord({
      owner: this.#owner,
      dirname: this.directory,
      name,
      objectId,
      contentLength: size,
      contentMD5: md5Base64(content),
      sharks: sharks.map((s) => ({
        datacenter: s.datacenter,
        manta_storage_id: s.manta_storage_id,
      })),
      mtime: Date.now(),
    });
    await this.#seeder.store([{ record, content }]);
    await this.#seeder.flush();
    return {
      key: record.key,
      owner: this.#owner,
      objectId,
      shardIndex: shardIndexOfVnode(record.vnode, this.sandbox.shards.length),
      sharks: sharks.map((s) => s.manta_storage_id),
    };
  }

  async #makeDirectories(): Promise<void> {
    const now = Date.now();
    for (const path of [`/${this.#owner}/stor`, this.directory]) {
      const record = directoryRecord(this.#owner, path, now);
      const client = this.#clients[shardIndexOfVnode(record.vnode, this.#clients.length)];
      await client?.putObject('manta', record.key, record);
    }
    this.#directoriesMade = true;
  }

  async close(): Promise<void> {
    await Promise.all(this.#clients.map((c) => c.close()));
  }
}
