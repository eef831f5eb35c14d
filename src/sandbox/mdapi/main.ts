/**
 * Runs a buckets-mdapi shard stand-in as its own process:
 *   node --import tsx src/sandbox/mdapi/main.ts --vnodes 0,2,4 [--port N] [--host H]
 *     [--name SHARD] [--discovery-rpcs] (--database-url postgres://... | --data-dir DIR)
 * Without a URL the shard keeps its vnode schemas in an embedded PGlite under --data-dir (in
 * memory when neither is given). Logs `mdapi shard listening` with `host` and `port` once bound.
 */
import { Command, InvalidArgumentError } from 'commander';
import { createLogger } from '../../log/index.ts';
import { openMdapiDatabase } from './database.ts';
import { startMdapiShard } from './shard.ts';

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidArgumentError('must be an integer 0..65535');
  }
  return port;
}

function parseVnodes(value: string): number[] {
  const vnodes = value.split(',').map((v) => Number(v.trim()));
  if (vnodes.length === 0 || vnodes.some((v) => !Number.isSafeInteger(v) || v < 0)) {
    throw new InvalidArgumentError('must be a comma-separated list of vnode numbers');
  }
  return vnodes;
}

const program = new Command('sandbox-mdapi')
  .description('buckets-mdapi shard stand-in: its RPCs over vnode schemas in PostgreSQL')
  .requiredOption('--vnodes <list>', 'vnodes this shard hosts, e.g. 0,2,4', parseVnodes)
  .option('--port <port>', 'port (0 for any free one)', parsePort, 2030)
  .option('--host <host>', 'listen address', '127.0.0.1')
  .option('--name <name>', 'shard name for logs', '1.buckets-mdapi')
  .option('--discovery-rpcs', 'serve listvnodes/listowners (the production server does not)')
  .option('--database-url <url>', 'PostgreSQL URL of the shard database')
  .option('--data-dir <dir>', 'PGlite data directory (without --database-url)')
  .option('--pool-size <n>', 'PostgreSQL connections', parsePort, 16)
  .option('--log-level <level>', 'log level', 'info');

program.parse();
const opts = program.opts<{
  vnodes: number[];
  port: number;
  host: string;
  name: string;
  discoveryRpcs?: boolean;
  databaseUrl?: string;
  dataDir?: string;
  poolSize: number;
  logLevel: string;
}>();

const log = createLogger({ name: 'sandbox-mdapi', level: opts.logLevel });
const db = await openMdapiDatabase({
  ...(opts.databaseUrl !== undefined ? { url: opts.databaseUrl } : {}),
  ...(opts.dataDir !== undefined ? { dataDir: opts.dataDir } : {}),
  poolSize: opts.poolSize,
  log,
});
const shard = await startMdapiShard({
  db,
  vnodes: opts.vnodes,
  host: opts.host,
  port: opts.port,
  name: opts.name,
  discoveryRpcs: opts.discoveryRpcs ?? false,
  log,
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log.info({ signal }, 'mdapi shard stopping');
    shard
      .close()
      .then(() => db.close())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          log.error({ err }, 'mdapi shard close failed');
          process.exit(1);
        },
      );
  });
}
