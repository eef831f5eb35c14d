/**
 * Assembles and runs an agent: store, scheduler, processor, API server and metrics server.
 * Startup clears only the agent's own temp directory, applies retention, then resumes
 * every unfinished assignment (done tasks are not redone) before accepting new ones.
 */
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { RateLimiter } from '../async/index.ts';
import { createLogger, type Logger } from '../log/index.ts';
import type { AgentConfig } from './config.ts';
import { resetTempDir } from './fsutil.ts';
import { AgentMetrics } from './metrics.ts';
import { type PayloadRules, sourceProblem } from './payload.ts';
import { DownloadProcessor, type TaskProcessor } from './processor.ts';
import { Scheduler } from './scheduler.ts';
import { buildAgentApp } from './server.ts';
import { AgentStore } from './store/index.ts';

/** Name of the temp directory under the object root (same filesystem: atomic rename). */
export const TEMP_DIR_NAME = '.rebalancer-tmp';

export interface AgentDeps {
  readonly log?: Logger;
  /** Replaces the download processor (manager tests use an "always pass" one). */
  readonly processor?: TaskProcessor;
}

/** The options a running agent applies without a restart (SIGHUP, see reload.ts). */
export type ReloadableConfig = Pick<AgentConfig, 'maxBytesPerSecond' | 'logLevel'>;

export interface RunningAgent {
  readonly url: string;
  readonly port: number;
  /** Undefined when metrics are disabled. */
  readonly metricsUrl: string | undefined;
  readonly app: FastifyInstance;
  readonly store: AgentStore;
  readonly scheduler: Scheduler;
  readonly metrics: AgentMetrics;
  /** The configuration in force, reloadable options as last applied. */
  readonly config: AgentConfig;
  /** Applies new values of the reloadable options at once (downloads in flight included). */
  reconfigure(next: ReloadableConfig): void;
  /** Stops accepting work, lets in-flight tasks finish within the grace time, closes all. */
  close(graceMs?: number): Promise<void>;
}

function urlOf(server: { address(): AddressInfo | string | null }, path = ''): string {
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${addr.port}${path}`;
}

async function startMetricsServer(
  metrics: AgentMetrics,
  host: string,
  port: number,
  log: Logger,
): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ code: 'NotFound', message: 'metrics are served on GET /metrics' }));
      return;
    }
    metrics.text().then(
      (text) => {
        res.writeHead(200, { 'content-type': metrics.registry.contentType });
        res.end(text);
      },
      (err: unknown) => {
        log.error({ err }, 'collecting metrics failed');
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ code: 'InternalError', message: 'collecting metrics failed' }));
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

export async function startAgent(config: AgentConfig, deps: AgentDeps = {}): Promise<RunningAgent> {
  const log = deps.log ?? createLogger({ name: 'rebalancer-agent', level: config.logLevel });
  const metrics = new AgentMetrics(config.metrics);
  let current = config;
  // One bucket for every download: the cap is the agent's total, whatever the concurrency.
  const bandwidth = new RateLimiter(config.maxBytesPerSecond || null);
  metrics.maxBytesPerSecond(config.maxBytesPerSecond);
  mkdirSync(config.objectRoot, { recursive: true });
  const tempDir = join(config.objectRoot, TEMP_DIR_NAME);
  const removed = await resetTempDir(tempDir);
  if (removed > 0) log.info({ tempDir, removed }, 'removed partial downloads of a previous run');

  const store = new AgentStore({ stateDir: config.stateDir, log });
  const sweep = (): void => {
    if (config.completedRetentionSecs <= 0) return;
    try {
      const n = store.deleteCompletedBefore(Date.now() - config.completedRetentionSecs * 1000);
      if (n > 0) log.info({ removed: n }, 'removed completed assignments past retention');
    } catch (err) {
      log.error({ err }, 'retention sweep failed');
    }
  };
  sweep();
  const retention = setInterval(
    sweep,
    Math.min(3600, Math.max(1, config.completedRetentionSecs)) * 1000,
  );
  retention.unref();

  const rules: PayloadRules = {
    objectRoot: config.objectRoot,
    idPolicy: config.idPolicy,
    allowHostPortSources: config.allowHostPortSources,
    mantaDomain: config.domainName,
    hostAliases: config.hostAliases,
    maxTasks: config.maxTasksPerAssignment,
  };
  if (config.domainName === undefined && config.hostAliases.size === 0) {
    log.warn('server.domain_name is not set: tasks naming N.stor.<domain> sources are refused');
  }
  const downloader = deps.processor
    ? undefined
    : new DownloadProcessor({
        objectRoot: config.objectRoot,
        tempDir,
        idPolicy: config.idPolicy,
        allowHostPortSources: config.allowHostPortSources,
        hostAliases: config.hostAliases,
        sourceAllowed: (id) => sourceProblem(id, rules) === undefined,
        connectTimeoutMs: config.connectTimeoutSecs * 1000,
        idleTimeoutMs: config.downloadTimeoutSecs * 1000,
        retryDelaysMs: config.retryDelaysMs,
        connectionsPerSource: config.maxDownloads,
        bandwidth,
        log,
        metrics,
      });
  const processor = deps.processor ?? downloader!.process;
  const scheduler = new Scheduler({
    store,
    processor,
    metrics,
    log,
    workers: config.workers,
    workersPerAssignment: config.workersPerAssignment,
    maxDownloads: config.maxDownloads,
  });
  const unfinished = store.resumeUnfinished();
  if (unfinished.length > 0) log.info({ assignments: unfinished.length }, 'resuming assignments');
  for (const row of unfinished) scheduler.enqueue(row);

  let shuttingDown = false;
  const app = await buildAgentApp({
    store,
    scheduler,
    metrics,
    log,
    rules,
    maxQueued: config.maxQueued,
    bodyLimitBytes: config.bodyLimitBytes,
    authToken: config.authToken,
    isShuttingDown: () => shuttingDown,
  });
  await app.listen({ host: config.host, port: config.port });
  const metricsServer = config.metrics.enabled
    ? await startMetricsServer(metrics, config.metrics.host, config.metrics.port, log)
    : undefined;
  const url = urlOf(app.server);
  const metricsUrl = metricsServer ? urlOf(metricsServer, '/metrics') : undefined;
  log.info(
    {
      url,
      metrics_url: metricsUrl,
      workers: config.workers,
      workers_per_assignment: config.workersPerAssignment,
      max_downloads: config.maxDownloads,
      download_timeout_secs: config.downloadTimeoutSecs,
      max_bytes_per_second: config.maxBytesPerSecond,
      object_root: config.objectRoot,
      state_dir: config.stateDir,
      auth: config.authToken !== undefined,
    },
    'rebalancer agent listening',
  );

  let closing: Promise<void> | undefined;
  const close = (graceMs = config.shutdownGraceSecs * 1000): Promise<void> => {
    closing ??= (async () => {
      shuttingDown = true;
      clearInterval(retention);
      await scheduler.stop(graceMs);
      await app.close();
      if (metricsServer) {
        metricsServer.closeAllConnections();
        await new Promise<void>((resolve) => metricsServer.close(() => resolve()));
      }
      await downloader?.close();
      await store.close();
      log.info('rebalancer agent stopped');
    })();
    return closing;
  };

  return {
    url,
    port: (app.server.address() as AddressInfo).port,
    metricsUrl,
    app,
    store,
    scheduler,
    metrics,
    get config() {
      return current;
    },
    reconfigure(next) {
      bandwidth.setRate(next.maxBytesPerSecond || null);
      metrics.maxBytesPerSecond(next.maxBytesPerSecond);
      log.level = next.logLevel;
      // Only these: `next` may be a whole config whose other options wait for a restart.
      current = { ...current, maxBytesPerSecond: next.maxBytesPerSecond, logLevel: next.logLevel };
    },
    close,
  };
}
