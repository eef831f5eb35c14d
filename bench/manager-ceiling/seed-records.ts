/**
 * Seeds Manta object RECORDS only, no files: the load agents copy nothing and nothing reads
 * the makos, so the Seeder's files (src/sandbox/seed/seeder.ts writes one per copy) would
 * only cost time and disk. Each record is built by the sandbox's objectRecord (member order,
 * vnode, etag as Manta's) and put with `etag: null` into the shard that owns its vnode, as
 * the Seeder does, through MorayClient batch RPCs. Every object is on the evacuated shark
 * plus one other, spread evenly, as bench/evacuate seeds them.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { type BatchOperation, MorayClient } from '../../src/moray/index.ts';
import type { SandboxDescription } from '../../src/sandbox/description.ts';
import { shardIndexOfVnode } from '../../src/sandbox/ring.ts';
import { SeededRandom } from '../../src/sandbox/seed/random.ts';
import { objectRecord } from '../../src/sandbox/seed/record.ts';

const BATCH = 200;
/** Batches in flight per shard. */
const PARALLEL = 4;
const OWNERS = 64;
const MIN_SIZE = 4 * 1024;
const MAX_SIZE = 64 * 1024;

export async function seedRecords(
  sandbox: SandboxDescription,
  count: number,
  log: (message: string) => void,
): Promise<number> {
  const started = performance.now();
  const clients = sandbox.shards.map(
    (s) =>
      new MorayClient({ host: s.host, port: s.port, connections: 4, healthCheckIntervalMs: 0 }),
  );
  try {
    const random = new SeededRandom(1);
    const [evacuated, ...others] = sandbox.sharks;
    if (!evacuated || others.length === 0) throw new Error('need at least two sharks');
    const owners = Array.from({ length: OWNERS }, () => random.uuid());
    const now = Date.now();
    const pending: BatchOperation[][] = clients.map(() => []);
    const inFlight: Set<Promise<unknown>>[] = clients.map(() => new Set());
    const send = async (shard: number, ops: BatchOperation[]) => {
      const client = clients[shard] as MorayClient;
      const running = inFlight[shard] as Set<Promise<unknown>>;
      while (running.size >= PARALLEL) await Promise.race(running);
      const p = client.batch(ops).finally(() => running.delete(p));
      // Surfaced by the race above or the final Promise.all, never unhandled meanwhile.
      p.catch(() => undefined);
      running.add(p);
    };
    let seeded = 0;
    for (let i = 0; i < count; i++) {
      const owner = owners[i % owners.length] as string;
      const other = others[i % others.length] as (typeof others)[number];
      const record = objectRecord({
        owner,
        dirname: `/${owner}/stor/bench`,
        name: `o${i}`,
        objectId: randomUUID(),
        contentLength: random.logUniform(MIN_SIZE, MAX_SIZE),
        // No content exists: an MD5 of the right shape, as a record would carry.
        contentMD5: randomBytes(16).toString('base64'),
        sharks: [evacuated, other].map((s) => ({
          datacenter: s.datacenter,
          manta_storage_id: s.manta_storage_id,
        })),
        mtime: now,
      });
      const shard = shardIndexOfVnode(record.vnode, clients.length);
      const queue = pending[shard] as BatchOperation[];
      queue.push({
        bucket: 'manta',
        operation: 'put',
        key: record.key,
        value: record,
        options: { etag: null },
      });
      if (queue.length === BATCH) {
        await send(shard, queue.splice(0));
        seeded += BATCH;
        if (seeded % 20_000 < BATCH) log(`seeded ${seeded} records`);
      }
    }
    for (const [shard, queue] of pending.entries()) if (queue.length > 0) await send(shard, queue);
    await Promise.all(inFlight.flatMap((s) => [...s]));
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
  return (performance.now() - started) / 1000;
}
