/**
 * Runs one mako stand-in as its own process (the sandbox starts one per storage node):
 *   node --import tsx src/sandbox/mako/main.ts --root DIR [--port N] [--host H] [--faults JSON]
 * Logs a bunyan record `mako listening` carrying `url` and `port` once it accepts requests.
 */
import { Command, InvalidArgumentError } from 'commander';
import { createLogger } from '../../log/index.ts';
import { parseFaults } from './faults.ts';
import { startMako } from './server.ts';

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidArgumentError('must be an integer 0..65535');
  }
  return port;
}

function parseFaultsJson(value: string): unknown {
  try {
    const input: unknown = JSON.parse(value);
    parseFaults(input);
    return input;
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

const program = new Command('mako')
  .description('Manta storage node (mako) stand-in serving an object root over HTTP')
  .requiredOption('--root <dir>', 'object root (like /manta)')
  .option('--port <port>', 'port, 0 for any free one', parsePort, 80)
  .option('--host <host>', 'listen address', '127.0.0.1')
  .option('--faults <json>', 'initial fault knobs (JSON, see MakoFaultsInput)', parseFaultsJson)
  .option('--keep-alive', 'keep connections open (real makos close after every response)')
  .option('--no-content-md5', 'do not send Content-MD5 on GET/HEAD (as real nginx)')
  .option('--log-level <level>', 'log level', 'info');

program.parse();
const opts = program.opts<{
  root: string;
  port: number;
  host: string;
  faults?: Record<string, unknown>;
  keepAlive?: boolean;
  contentMd5: boolean;
  logLevel: string;
}>();

const log = createLogger({ name: 'mako', level: opts.logLevel });
const mako = await startMako({
  root: opts.root,
  port: opts.port,
  host: opts.host,
  faults: opts.faults ?? {},
  log,
  keepAlive: opts.keepAlive ?? false,
  contentMd5Header: opts.contentMd5,
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log.info({ signal }, 'mako stopping');
    mako.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'mako close failed');
        process.exit(1);
      },
    );
  });
}
