/**
 * Runs a Moray shard stand-in as its own process:
 *   node --import tsx src/sandbox/moray/main.ts [--port N] [--host H] [--name SHARD]
 *     (--database-url postgres://... | --data-dir DIR)
 * Without a URL the shard keeps its tables in an embedded PGlite under --data-dir (in memory when
 * neither is given). Logs `moray shard listening` with `host` and `port` once bound.
 */
import { Command, InvalidArgumentError } from 'commander';
import { openDatabase } from '../../db/index.ts';
import { createLogger } from '../../log/index.ts';
import { startMorayShard } from './shard.ts';

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidArgumentError('must be an integer 0..65535');
  }
  return port;
}

const program = new Command('sandbox-moray')
  .description('Moray shard stand-in: the Moray RPCs over PostgreSQL laid out as Moray does')
  .option('--port <port>', 'port (0 for any free one)', parsePort, 2021)
  .option('--host <host>', 'listen address', '127.0.0.1')
  .option('--name <name>', 'shard name for logs', '1.moray')
  .option('--database-url <url>', 'PostgreSQL URL of the shard database')
  .option('--data-dir <dir>', 'PGlite data directory (without --database-url)')
  .option('--pool-size <n>', 'PostgreSQL connections', parsePort, 16)
  .option('--log-level <level>', 'log level', 'info');

program.parse();
const opts = program.opts<{
  port: number;
  host: string;
  name: string;
  databaseUrl?: string;
  dataDir?: string;
  poolSize: number;
  logLevel: string;
}>();

const log = createLogger({ name: 'sandbox-moray', level: opts.logLevel });
const db = await openDatabase({
  ...(opts.databaseUrl !== undefined ? { url: opts.databaseUrl } : {}),
  ...(opts.dataDir !== undefined ? { dataDir: opts.dataDir } : {}),
  poolSize: opts.poolSize,
  log,
});
const shard = await startMorayShard({ db, host: opts.host, port: opts.port, name: opts.name, log });

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log.info({ signal }, 'moray shard stopping');
    shard
      .close()
      .then(() => db.close())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          log.error({ err }, 'moray shard close failed');
          process.exit(1);
        },
      );
  });
}
