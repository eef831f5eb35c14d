/**
 * `rebalancer-agent` entry point: reads the configuration (file, environment, flags),
 * starts the agent, reloads the configuration on SIGHUP and shuts it down gracefully on
 * SIGTERM/SIGINT. An invalid configuration exits with status 2 and a message naming the
 * option (L exited 0); an invalid one on reload is logged and the running one kept.
 */
import { Command } from 'commander';
import { createLogger } from '../log/index.ts';
import { PACKAGE_VERSION as version } from '../package-info.ts';
import { startAgent } from './agent.ts';
import {
  type AgentConfig,
  ConfigError,
  configPath,
  DEFAULT_CONFIG_PATH,
  readConfigFile,
  resolveConfig,
} from './config.ts';
import { envName, flagName, OPTIONS } from './options.ts';
import { reloadConfig } from './reload.ts';

const versionLine = `rebalancer-agent ${version} (${process.env.REBALANCER_BUILD_STAMP ?? 'no-STAMP'})`;

function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/** Reads the configuration; a reload calls it again (same file, environment and flags). */
function parseArgs(argv: string[]): () => AgentConfig {
  const program = new Command('rebalancer-agent')
    .description('Manta rebalancer agent: downloads assigned objects onto this storage node')
    .version(versionLine, '-V, --version')
    .option(
      '-f, --config <path>',
      `config file, TOML or JSON (default ${DEFAULT_CONFIG_PATH} if present)`,
    )
    .showHelpAfterError();
  for (const spec of OPTIONS) {
    program.option(`--${flagName(spec)} <value>`, `${spec.help} [env ${envName(spec)}]`);
  }
  program.parse(argv);
  const opts = program.opts<Record<string, string | undefined>>();
  const flags = new Map<string, string>();
  for (const spec of OPTIONS) {
    const value = opts[camel(flagName(spec))];
    if (value !== undefined) flags.set(`${spec.section}.${spec.key}`, value);
  }
  const path = configPath(opts.config, process.env);
  return () => {
    const file = path === undefined ? undefined : readConfigFile(path);
    return resolveConfig({ file, env: process.env, flags });
  };
}

async function main(): Promise<void> {
  let load: () => AgentConfig;
  let config: AgentConfig;
  try {
    load = parseArgs(process.argv);
    config = load();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`rebalancer-agent: invalid configuration: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger({ name: 'rebalancer-agent', level: config.logLevel });
  log.info({ version: versionLine }, 'starting');
  // File writes and fsyncs run on libuv's pool (default 4 threads), which is sized before
  // any code here runs: the service environment must set UV_THREADPOOL_SIZE. Two threads per
  // download: each has a write or an fdatasync on the pool while finished ones still fsync
  // their directories (with one, large downloads ran about a fifth slower).
  const pool = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  if (pool < Math.min(2 * config.maxDownloads, 1024)) {
    log.warn(
      { UV_THREADPOOL_SIZE: pool, max_downloads: config.maxDownloads },
      'UV_THREADPOOL_SIZE is below twice max_downloads: downloads will queue on fsyncs',
    );
  }
  const agent = await startAgent(config, { log });
  agent.metrics.collectProcessMetrics();
  let signals = 0;
  const shutdown = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    log.info({ signal }, 'shutting down');
    agent.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.fatal({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  process.on('SIGHUP', () => {
    log.info({ signal: 'SIGHUP' }, 'reloading the configuration');
    reloadConfig(agent, load, log);
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`rebalancer-agent: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
