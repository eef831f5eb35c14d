/**
 * rebalancer-manager: loads the config, opens the database (PostgreSQL, or embedded PGlite),
 * resumes unfinished jobs, serves the API and the metrics. SIGUSR1 re-reads the config and
 * applies each changed key as src/manager/reload.ts classifies it (manager.md §6.6); SIGTERM/
 * SIGINT stop gracefully, leaving running jobs to resume.
 */
import { createServer, type Server } from 'node:http';
import { Command, InvalidArgumentError } from 'commander';
import { type ManagerError, ManagerErrorCode } from '../api/manager.ts';
import { openDatabase } from '../db/index.ts';
import { createLogger } from '../log/index.ts';
import { auditExecutor } from './audit/executor.ts';
import {
  ConfigError,
  type ConfigWarning,
  DEFAULT_CONFIG_PATH,
  loadConfig,
  type ManagerConfig,
  shardRange,
} from './config.ts';
import { createEnvironment, type RealEnvironment } from './environment.ts';
import { configFleetSource } from './fleet.ts';
import { type ApiTokens, BEARER_CHALLENGE, refusal } from './http/auth.ts';
import { evacuateExecutor } from './jobs/evacuate/job.ts';
import { planExecutor } from './jobs/plan/executor.ts';
import { usedBytesOf } from './jobs/progress.ts';
import type { JobExecutor } from './jobs/runner.ts';
import { ManagerMetrics } from './metrics.ts';
import { logReload, reloadConfig } from './reload.ts';
import { startManagerService } from './service.ts';
import { MorayStorageSharkDirectory } from './sharks.ts';

/** Connections of the API's own (service.ts `apiDb`): a few, for operators' requests. */
const API_POOL_SIZE = 4;

function port(value: string): number {
  const n = Number(value);
  if (!/^[0-9]+$/.test(value) || n > 65535)
    throw new InvalidArgumentError('must be a port number (0-65535)');
  return n;
}

const program = new Command('rebalancer-manager')
  .description('The Manta rebalancer manager: runs evacuate jobs')
  .option('-c, --config_file <path>', 'configuration file', DEFAULT_CONFIG_PATH)
  .option('--config <path>', 'same as --config_file')
  .option('-p, --port <port>', 'API port (overrides listen_port)', port)
  .option('--listen-address <address>', 'API address (overrides listen_address)')
  .option(
    '--database-url <url>',
    'PostgreSQL URL (overrides database_url; default embedded PGlite)',
  )
  .option(
    '--metrics-port <port>',
    'metrics port (overrides metrics_port; 0: API /metrics only)',
    port,
  )
  .parse();

const flags = program.opts<{
  config_file: string;
  config?: string;
  port?: number;
  listenAddress?: string;
  databaseUrl?: string;
  metricsPort?: number;
}>();
const configPath = flags.config ?? flags.config_file;

async function readConfig(warn: (warning: ConfigWarning) => void): Promise<ManagerConfig> {
  const config = await loadConfig(configPath, warn);
  if (flags.port !== undefined) config.listen_port = flags.port;
  if (flags.listenAddress !== undefined) config.listen_address = flags.listenAddress;
  if (flags.databaseUrl !== undefined) config.database_url = flags.databaseUrl;
  if (flags.metricsPort !== undefined) config.metrics_port = flags.metricsPort;
  return config;
}

let config: ManagerConfig;
// The logger's level comes from the config: its warnings wait for it.
const startWarnings: ConfigWarning[] = [];
try {
  config = await readConfig((warning) => startWarnings.push(warning));
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`Error parsing config file: ${err.message}\n`);
  process.exit(1);
}

const log = createLogger({
  name: 'rebalancer-manager',
  level: process.env.LOG_LEVEL ?? config.log_level,
});
for (const { key, message } of startWarnings) log.warn({ key }, message);
const metrics = new ManagerMetrics({
  service: `rebalancer.${config.domain_name}`,
  ...(config.datacenter === undefined ? {} : { datacenter: config.datacenter }),
});
metrics.collectProcessMetrics();
const db = await openDatabase({
  ...(config.database_url === undefined ? {} : { url: config.database_url }),
  ...(config.database_dir === undefined ? {} : { dataDir: config.database_dir }),
  log,
});
// PGlite has one connection: the API shares it.
const apiDb =
  config.database_url === undefined
    ? undefined
    : await openDatabase({ url: config.database_url, poolSize: API_POOL_SIZE, log });
const env = createEnvironment(() => config, metrics, log);
await env.start();
const service = await startManagerService({
  db,
  ...(apiDb === undefined ? {} : { apiDb }),
  executor: jobExecutor(env),
  sharks: new MorayStorageSharkDirectory(env.storageShard, config.domain_name),
  log,
  metrics,
  settings: () => ({
    snaplinkCleanupRequired: config.snaplink_cleanup_required,
    metadataThreads: config.options.max_metadata_update_threads,
    staticMetadataThreads: config.options.use_static_md_update_threads,
  }),
  ...(process.env.STAMP === undefined ? {} : { stamp: process.env.STAMP }),
  sharkUsedBytes: (id) => {
    const node = env.storinfoSnapshot()?.nodes.find((n) => n.manta_storage_id === id);
    return node === undefined ? undefined : usedBytesOf(node);
  },
  stallAfterMs: () => config.stall_after_seconds * 1000,
  historyIntervalMs: config.progress_history_seconds * 1000,
  // Read at each purge: a reload applies at the next one.
  jobRetentionDays: () => config.job_retention_days,
  orphans: env.orphans,
  fleet: configFleetSource(
    () => env.storinfoSnapshot(),
    () => config,
  ),
  tokens: apiTokens,
});
if (service.resumed.length > 0) log.info({ jobs: service.resumed }, 'resumed unfinished jobs');
const address = await service.app.listen({ host: config.listen_address, port: config.listen_port });
log.info(
  { address, database: db.kind, shards: shardRange(config) },
  'rebalancer-manager listening',
);

/** The current config's tokens: read per request, so a reload rotates them at once. */
function apiTokens(): ApiTokens {
  return { api: config.api_token, read: config.api_token_read };
}

let metricsServer: Server | undefined;
if (config.metrics_port !== 0) {
  const server = createServer((req, res) => {
    // The metrics port answers only reads of metrics: the API's read rule applies.
    const refused = refusal('GET', '/metrics', req.headers.authorization, apiTokens());
    if (refused !== undefined) {
      const body: ManagerError = { code: ManagerErrorCode.Unauthorized, message: refused };
      res.writeHead(401, {
        'content-type': 'application/json',
        'www-authenticate': BEARER_CHALLENGE,
      });
      res.end(JSON.stringify(body));
      return;
    }
    metrics.text().then(
      (text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(text),
      (err: unknown) => {
        log.error({ err }, 'metrics rendering failed');
        res.writeHead(500).end();
      },
    );
  });
  await new Promise<void>((resolve) =>
    server.listen(config.metrics_port, config.listen_address, resolve),
  );
  metricsServer = server;
}

async function reload(): Promise<void> {
  let next: ManagerConfig;
  try {
    next = await readConfig(({ key, message }) => log.warn({ key }, message));
  } catch (err) {
    log.error({ err }, 'Error parsing config after signal received. Not updating');
    return;
  }
  const outcome = reloadConfig(config, next);
  config = outcome.config;
  env.metadataBudgets.setRate(config.metadata_updates_per_second_per_shard);
  if (process.env.LOG_LEVEL === undefined) log.level = config.log_level;
  else if (outcome.live.includes('log_level')) {
    log.warn(
      { LOG_LEVEL: process.env.LOG_LEVEL },
      'log_level: the LOG_LEVEL variable overrides it',
    );
  }
  logReload(log, outcome);
}

// As L, signals arriving while a reload runs are coalesced into one more reload.
let reloading = false;
let reloadAgain = false;
process.on('SIGUSR1', () => {
  if (reloading) {
    reloadAgain = true;
    return;
  }
  reloading = true;
  void (async () => {
    do {
      reloadAgain = false;
      await reload();
    } while (reloadAgain);
    reloading = false;
  })();
});

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'shutting down; running jobs resume at the next start');
  await service.close();
  if (metricsServer) await new Promise((resolve) => metricsServer?.close(resolve));
  await env.close();
  await apiDb?.close();
  await db.close();
  process.exit(0);
}
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    shutdown(signal).catch((err: unknown) => {
      log.error({ err }, 'shutdown failed');
      process.exit(1);
    });
  });
}

/** Audits are audited, dry runs planned; every other job is an evacuation. */
function jobExecutor(env: RealEnvironment): JobExecutor {
  const evacuate = evacuateExecutor(env);
  const plan = planExecutor(env.plan);
  const audit = auditExecutor(env.audit);
  return (ctx) =>
    ctx.job.action === 'audit' ? audit(ctx) : ctx.job.dryRun ? plan(ctx) : evacuate(ctx);
}
