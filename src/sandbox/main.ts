import { resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { createLogger } from '../log/index.ts';
import { demoCommand } from './demo/command.ts';
import { readSandboxDescription, SANDBOX_FILE } from './description.ts';
import { DEFAULT_LAYOUT } from './layout.ts';
import { seedSandbox } from './seed/run.ts';
import { startSandbox, stopSandbox } from './up.ts';

function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`must be an integer from ${min} to ${max}`);
    }
    return n;
  };
}

/** `1k`, `64KiB`, `1MiB`, `2g`, or plain bytes. */
function bytes(value: string): number {
  const match = /^(\d+)\s*([kmg]?)(i?b)?$/i.exec(value.trim());
  if (!match) throw new InvalidArgumentError('must be a size such as 4096, 64KiB, 1MiB or 2GiB');
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(match[2] ?? '').toLowerCase()] ?? 1;
  return Number(match[1]) * unit;
}

const program = new Command('rebalancer-sandbox')
  .description(
    'A local Manta made of faithful stand-ins (moray shards, makos, storinfo) for demos, tests and benchmarks',
  )
  .showHelpAfterError();

program
  .command('up')
  .description(`start a sandbox and write DIR/${SANDBOX_FILE}`)
  .requiredOption('--dir <dir>', 'where the sandbox lives (data, logs, sandbox.json)')
  .option('--shards <n>', 'moray shards', integer(1, 64), DEFAULT_LAYOUT.shards)
  .option('--sharks <n>', 'storage nodes (makos)', integer(1, 256), DEFAULT_LAYOUT.sharks)
  .option(
    '--datacenters <n>',
    'datacenters the sharks are spread over',
    integer(1, 256),
    DEFAULT_LAYOUT.datacenters,
  )
  .option(
    '--shark-capacity <size>',
    'capacity storinfo reports per shark',
    bytes,
    DEFAULT_LAYOUT.sharkCapacityBytes,
  )
  .option('--domain <domain>', 'Manta DNS domain', DEFAULT_LAYOUT.domain)
  .option(
    '--buckets-shards <n>',
    'buckets-mdapi shards (0: none); they serve listvnodes/listowners, which production lacks, so the RPC listing works on PGlite',
    integer(0, 64),
    DEFAULT_LAYOUT.bucketsShards,
  )
  .option(
    '--buckets-vnodes <n>',
    'vnodes of the buckets ring, dealt to the buckets shards round-robin',
    integer(1, 4096),
    DEFAULT_LAYOUT.bucketsVnodes,
  )
  .option(
    '--database-url <url>',
    'real PostgreSQL (admin URL) for the shards and the manager; embedded PGlite otherwise',
  )
  .option('--no-rebalancer', 'start only the Manta stand-ins, without agents and manager')
  .action(async (opts) => {
    const dir = resolve(opts.dir);
    const description = await startSandbox({
      dir,
      layout: {
        domain: opts.domain,
        shards: opts.shards,
        sharks: opts.sharks,
        datacenters: opts.datacenters,
        sharkCapacityBytes: opts.sharkCapacity,
        bucketsShards: opts.bucketsShards,
        bucketsVnodes: opts.bucketsVnodes,
      },
      databaseUrl: opts.databaseUrl,
      rebalancer: opts.rebalancer,
      log: createLogger({ name: 'rebalancer-sandbox', level: 'warn' }),
    });
    console.log(`sandbox running: ${resolve(dir, SANDBOX_FILE)}`);
    if (description.manager) console.log(`  manager  ${description.manager.url}`);
    console.log(`  storinfo ${description.storinfo.url}`);
    for (const shard of description.shards)
      console.log(`  shard    ${shard.name} ${shard.host}:${shard.port}`);
    for (const shard of description.buckets_shards ?? [])
      console.log(
        `  buckets  ${shard.name} ${shard.host}:${shard.port} vnodes ${shard.vnodes.join(',')}`,
      );
    for (const shark of description.sharks) {
      const agent = shark.agent_url ? `, agent ${shark.agent_url}` : '';
      console.log(
        `  shark    ${shark.manta_storage_id} (${shark.datacenter}) mako ${shark.mako_url}${agent}`,
      );
    }
  });

program
  .command('seed')
  .description('create objects: files on the makos and metadata records in the shards')
  .requiredOption('--dir <dir>', 'the sandbox directory')
  .option('--objects <n>', 'objects to create', integer(0), 1000)
  .option('--min-copies <n>', 'fewest copies of an object', integer(1), 1)
  .option('--max-copies <n>', 'most copies of an object', integer(1), 3)
  .option('--min-size <size>', 'smallest object', bytes, 1024)
  .option('--max-size <size>', 'largest object (sizes are log-uniform)', bytes, 1024 ** 2)
  .option('--sharks <ids>', 'comma-separated storage ids to place copies on (default all)')
  .option('--seed <n>', 'random seed, for a reproducible sandbox', integer(0))
  .option(
    '--buckets-objects <n>',
    'buckets (v2) objects to create in the buckets shards, plus MPU uploads in each state',
    integer(0),
    0,
  )
  .option(
    '--mpu-uploads <n>',
    'MPU uploads per state (default: one per 200 buckets objects)',
    integer(0),
  )
  .action(async (opts) => {
    const sandbox = await readSandboxDescription(resolve(opts.dir));
    const report = await seedSandbox(sandbox, {
      objects: opts.objects,
      minCopies: opts.minCopies,
      maxCopies: opts.maxCopies,
      minSize: opts.minSize,
      maxSize: opts.maxSize,
      sharks: opts.sharks?.split(','),
      seed: opts.seed,
      bucketsObjects: opts.bucketsObjects,
      ...(opts.mpuUploads === undefined ? {} : { mpuUploads: opts.mpuUploads }),
    });
    console.log(JSON.stringify(report));
  });

program
  .command('down')
  .description('stop every process of the sandbox and drop its databases')
  .requiredOption('--dir <dir>', 'the sandbox directory')
  .action(async (opts) => {
    const description = await stopSandbox(resolve(opts.dir));
    console.log(`stopped ${description.processes.length} processes`);
  });

program
  .command('demo')
  .description(
    'start a sandbox, seed objects, evacuate one storage node through the manager and verify the result independently',
  )
  .option(
    '--dir <dir>',
    'an empty directory for the sandbox (default: a temporary one, removed after)',
  )
  .option(
    '--database-url <url>',
    'real PostgreSQL (admin URL) for the shards and the manager; embedded PGlite otherwise',
  )
  .option('--objects <n>', 'objects to seed (1-3 copies each)', integer(0), 5000)
  .option(
    '--buckets-objects <n>',
    'buckets (v2) objects to seed besides, plus MPU uploads (default: 10% of --objects)',
    integer(0),
  )
  .option('--min-size <size>', 'smallest object', bytes, 1024)
  .option('--max-size <size>', 'largest object (sizes are log-uniform)', bytes, 1024 ** 2)
  .option('--seed <n>', 'random seed, for a reproducible run', integer(0, 0xfffffff0))
  .option('--shark <id>', `storage id to evacuate (default 1.stor.${DEFAULT_LAYOUT.domain})`)
  .option('--keep', 'leave the sandbox running afterwards', false)
  .option('--json', 'print one JSON document at the end (the story goes to stderr)', false)
  .action(async (opts) => {
    process.exitCode = await demoCommand({
      dir: opts.dir === undefined ? undefined : resolve(opts.dir),
      databaseUrl: opts.databaseUrl,
      objects: opts.objects,
      bucketsObjects: opts.bucketsObjects ?? Math.round(opts.objects / 10),
      seed: opts.seed ?? Math.floor(Math.random() * 0xfffffff0),
      shark: opts.shark,
      minSize: opts.minSize,
      maxSize: opts.maxSize,
      keep: opts.keep,
      json: opts.json,
    });
  });

try {
  await program.parseAsync();
} catch (err) {
  console.error(`rebalancer-sandbox: ${(err as Error).message}`);
  process.exitCode = 1;
}
