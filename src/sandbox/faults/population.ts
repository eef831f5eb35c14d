/**
 * The objects of a fault trial: most on the evacuated shark with one or two more copies, some
 * with their only copy there (copied from the shark itself), and bystanders elsewhere
 * that the job must not touch. Placement and sizes come from the trial's PRNG.
 */
import { randomBytes } from 'node:crypto';
import { md5Base64 } from '../../manta/index.ts';
import { MorayClient } from '../../moray/index.ts';
import type { SandboxDescription } from '../description.ts';
import type { SeededRandom } from '../seed/random.ts';
import { objectRecord } from '../seed/record.ts';
import { SeedError, Seeder, type SeedObject } from '../seed/seeder.ts';

export interface Population {
  /** Each key's bytes: what the user holds (a re-upload sends them again). */
  contents: Map<string, Buffer>;
  /** Keys with a copy on the evacuated shark. */
  onEvacuated: string[];
}

const OWNERS = 8;
const MIN_SIZE = 512;
const MAX_SIZE = 16 * 1024;
const CHUNK = 256;

/** Seeds `count` objects on `evacuated` (plus a tenth as many bystanders). */
export async function seedPopulation(
  sandbox: SandboxDescription,
  evacuated: string,
  count: number,
  random: SeededRandom,
): Promise<Population> {
  const clients = sandbox.shards.map(
    (s) => new MorayClient({ host: s.host, port: s.port, connections: 2 }),
  );
  const population: Population = { contents: new Map(), onEvacuated: [] };
  try {
    const seeder = new Seeder(
      clients.map((client, i) => ({
        name: sandbox.shards[i]?.name ?? String(i),
        batch: (requests) => client.batch(requests),
      })),
      sandbox.sharks,
    );
    const evac = sandbox.sharks.find((s) => s.manta_storage_id === evacuated);
    if (!evac) throw new SeedError(`no shark ${evacuated}`);
    const others = sandbox.sharks.filter((s) => s !== evac);
    const owners = Array.from({ length: OWNERS }, () => random.uuid());
    const bystanders = Math.ceil(count / 10);
    let chunk: SeedObject[] = [];
    for (let i = 0; i < count + bystanders; i++) {
      const owner = owners[i % OWNERS] as string;
      const draw = random.next();
      const copies =
        i >= count
          ? random.sample(others, 2)
          : draw < 0.1
            ? [evac]
            : [evac, ...random.sample(others, draw < 0.85 ? 1 : 2)];
      const content = randomBytes(random.logUniform(MIN_SIZE, MAX_SIZE));
      const record = objectRecord({
        owner,
        dirname: `/${owner}/stor/faults`,
        name: `o${i.toString().padStart(6, '0')}`,
        objectId: random.uuid(),
        contentLength: content.length,
        contentMD5: md5Base64(content),
        sharks: copies.map((s) => ({
          datacenter: s.datacenter,
          manta_storage_id: s.manta_storage_id,
        })),
        mtime: Date.now(),
      });
      population.contents.set(record.key, content);
      if (i < count) population.onEvacuated.push(record.key);
      chunk.push({ content, record });
      if (chunk.length === CHUNK) {
        await seeder.store(chunk);
        chunk = [];
      }
    }
    if (chunk.length > 0) await seeder.store(chunk);
    await seeder.flush();
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
  return population;
}
