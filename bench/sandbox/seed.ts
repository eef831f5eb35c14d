/**
 * Seeding rate of the sandbox: objects/s for `--objects` small objects (1–4 KiB, one copy)
 * seeded by `Seeder` into two Moray shard stand-ins on real PostgreSQL (one process and one
 * scratch database each, as in the sandbox), with the makos' object roots in a temp dir.
 *
 *   node --import tsx bench/sandbox/seed.ts [--database-url postgres://...] [--objects N]
 * The last line printed is the JSON summary.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createLogger } from '../../src/log/index.ts';
import { MorayClient } from '../../src/moray/index.ts';
import { MANTA_BUCKET } from '../../src/sandbox/moray/manta-buckets.ts';
import { Seeder } from '../../src/sandbox/seed/seeder.ts';

const SHARDS = 2;
const log = createLogger({ name: 'bench-sandbox-seed', level: 'warn' });

async function startShard(
  url: string,
  name: string,
): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/sandbox/moray/main.ts',
      '--port',
      '0',
      '--name',
      name,
      '--database-url',
      url,
      '--log-level',
      'info',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const kill = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', kill);
  child.once('exit', () => process.off('exit', kill));
  for await (const line of createInterface({ input: child.stdout! })) {
    const record = JSON.parse(line) as { msg?: string; port?: number };
    if (record.msg === 'moray shard listening' && typeof record.port === 'number') {
      child.stdout!.resume();
      return { child, port: record.port };
    }
  }
  throw new Error(`moray shard ${name} exited before listening`);
}

export async function runSeedBench(
  adminUrl: string,
  objects: number,
): Promise<Record<string, number>> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  const names = Array.from(
    { length: SHARDS },
    (_, i) => `bench_sandbox_seed_${process.pid}_${i + 1}`,
  );
  const root = await mkdtemp(join(tmpdir(), 'bench-sandbox-seed-'));
  const shards: { child: ChildProcess; port: number }[] = [];
  const clients: MorayClient[] = [];
  try {
    for (const [i, name] of names.entries()) {
      await admin.query(`CREATE DATABASE ${name}`);
      const url = new URL(adminUrl);
      url.pathname = `/${name}`;
      const shard = await startShard(url.toString(), `${i + 1}.moray.bench`);
      shards.push(shard);
      const client = new MorayClient({ host: '127.0.0.1', port: shard.port, connections: 2, log });
      clients.push(client);
      await client.connect();
      await client.createBucket('manta', MANTA_BUCKET);
    }
    const sharks = [1, 2].map((n) => ({
      manta_storage_id: `${n}.stor.bench`,
      datacenter: 'dc1',
      mako_url: `http://127.0.0.1:${8000 + n}`,
      root: join(root, `${n}.stor.bench`),
    }));
    // Wall time spent waiting for batch RPCs (the rest is making and writing the files).
    let batchMs = 0;
    const seeder = new Seeder(
      clients.map((client, i) => ({
        name: `${i + 1}.moray.bench`,
        batch: async (requests) => {
          const started = performance.now();
          try {
            return await client.batch(requests);
          } finally {
            batchMs += performance.now() - started;
          }
        },
      })),
      sharks,
    );
    const report = await seeder.seed({
      objects,
      minCopies: 1,
      maxCopies: 1,
      minSize: 1024,
      maxSize: 4096,
      seed: 1,
    });
    return {
      seed_objects: report.objects,
      seed_files: report.files,
      seed_bytes: report.bytes,
      seed_seconds: Math.round(report.seconds * 10) / 10,
      seed_objects_per_s: Math.round(report.objects / report.seconds),
      seed_batch_wait_seconds: Math.round(batchMs / 100) / 10,
    };
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(
      shards.map(({ child }) => {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        return exited;
      }),
    );
    for (const name of names) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
    await rm(root, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values: args } = parseArgs({
    options: {
      'database-url': { type: 'string' },
      objects: { type: 'string', default: '1000000' },
    },
  });
  const adminUrl = args['database-url'] ?? process.env.REBALANCER_TEST_PG_URL;
  if (!adminUrl) {
    console.error('needs real PostgreSQL: --database-url or REBALANCER_TEST_PG_URL');
    process.exit(2);
  }
  const figures = await runSeedBench(adminUrl, Number(args.objects));
  console.log(JSON.stringify({ bench: 'sandbox-seed', figures }));
}
