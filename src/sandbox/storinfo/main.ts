/**
 * Runs the storinfo stand-in as its own process:
 *   node --import tsx src/sandbox/storinfo/main.ts --config storinfo.json [--port N] [--host H]
 * The config file is a StorinfoConfig (sharks, maxOperatorUtilizationPct, lagMs,
 * pollIntervalMs, host, port, faults). Logs `storinfo listening` with `url` and `port`.
 */
import { readFile } from 'node:fs/promises';
import { Command, InvalidArgumentError } from 'commander';
import { createLogger } from '../../log/index.ts';
import { parseStorinfoConfig } from './config.ts';
import { startStorinfo } from './server.ts';

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidArgumentError('must be an integer 0..65535');
  }
  return port;
}

const program = new Command('storinfo')
  .description('Manta storinfo stand-in reporting the real usage of mako directories')
  .requiredOption('--config <file>', 'JSON config file (StorinfoConfig)')
  .option('--port <port>', 'port (overrides the config; 0 for any free one)', parsePort)
  .option('--host <host>', 'listen address (overrides the config)')
  .option('--log-level <level>', 'log level', 'info');

program.parse();
const opts = program.opts<{ config: string; port?: number; host?: string; logLevel: string }>();

const log = createLogger({ name: 'storinfo', level: opts.logLevel });
const config = parseStorinfoConfig(JSON.parse(await readFile(opts.config, 'utf8')));
const storinfo = await startStorinfo({
  ...config,
  ...(opts.port !== undefined ? { port: opts.port } : {}),
  ...(opts.host !== undefined ? { host: opts.host } : {}),
  log,
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log.info({ signal }, 'storinfo stopping');
    storinfo.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'storinfo close failed');
        process.exit(1);
      },
    );
  });
}
