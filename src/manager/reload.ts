/**
 * SIGUSR1 reload (manager.md §6.6): which config keys may change at run time and how, and the
 * merge of a re-read config into the running one. L replaced its whole config for jobs created
 * afterwards (and silently ignored listen_port, log_level...); here every key is classified,
 * changes to keys bound at start are refused by name, and the rest take effect as classified.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from '../log/index.ts';
import type { ManagerConfig, ManagerOptions, MdapiConfig } from './config.ts';

/** A config key as RELOAD_CLASSES names it: top-level, or `options.<k>` / `mdapi.<k>`. */
export type ConfigKey =
  | Exclude<keyof ManagerConfig, 'options' | 'mdapi'>
  | `options.${keyof ManagerOptions}`
  | `mdapi.${keyof MdapiConfig}`;

/**
 * What a reload does with a changed key:
 *  - `live`: running jobs and the service follow the new value at their next decision;
 *  - `new-jobs`: jobs created after the reload use it; running jobs keep the value they started
 *    with (the pipeline's stages are sized from it when the job starts);
 *  - `restart`: bound at start (sockets, clients, database, metrics labels): the change is
 *    refused with a log line naming the key, and the old value stays until a restart.
 */
export type ReloadClass = 'live' | 'new-jobs' | 'restart';

export const RELOAD_CLASSES: Readonly<Record<ConfigKey, ReloadClass>> = {
  domain_name: 'restart',
  shards: 'restart',
  listen_port: 'restart',
  listen_address: 'restart',
  log_level: 'live',
  max_fill_percentage: 'live',
  snaplink_cleanup_required: 'live',
  direct_db: 'restart',
  direct_db_urls: 'restart',
  buckets_direct_db_urls: 'restart',
  database_url: 'restart',
  database_dir: 'restart',
  storinfo_url: 'restart',
  // In-flight assignments are checked where they were posted.
  agent_port: 'restart',
  // Moray clients resolve their address once.
  host_aliases: 'restart',
  metrics_port: 'restart',
  // A Moray client's request timeout is fixed when it is built.
  moray_operation_timeout_ms: 'restart',
  agent_outage_tolerance_ms: 'new-jobs',
  agent_auth_token: 'live',
  // The HTTP API reads both per request: a rotated token is asked for at once.
  api_token: 'live',
  api_token_read: 'live',
  datacenter: 'restart',
  // Every job's metadata updates follow the shared per-shard budget at once.
  metadata_updates_per_second_per_shard: 'live',
  stall_after_seconds: 'live',
  converge_delay_seconds: 'new-jobs',
  progress_history_seconds: 'restart',
  // Each hourly purge reads it: the next one applies the new value.
  job_retention_days: 'live',
  'options.max_tasks_per_assignment': 'new-jobs',
  // Running jobs are tuned with PUT /jobs/<id> instead.
  'options.max_metadata_update_threads': 'new-jobs',
  'options.max_md_read_threads': 'new-jobs',
  'options.max_sharks': 'live',
  'options.use_static_md_update_threads': 'new-jobs',
  'options.static_queue_depth': 'new-jobs',
  'options.max_assignment_age': 'new-jobs',
  'options.use_batched_updates': 'new-jobs',
  'options.md_read_chunk_size': 'new-jobs',
  'options.shark_list_retry_delay_ms': 'new-jobs',
  'options.exclude_key_prefixes': 'new-jobs',
  'options.blocklist': 'live',
  'options.blocked_datacenters': 'live',
  // Buckets (mdapi) clients are built at start.
  'mdapi.shards': 'restart',
  'mdapi.connection_timeout_ms': 'restart',
  'mdapi.max_batch_size': 'restart',
  'mdapi.operation_timeout_ms': 'restart',
  'mdapi.max_retries': 'restart',
  'mdapi.initial_backoff_ms': 'restart',
  'mdapi.max_backoff_ms': 'restart',
  'mdapi.vnode_count': 'restart',
};

export const CONFIG_KEYS = Object.keys(RELOAD_CLASSES) as ConfigKey[];

/** Keys whose values may hold credentials: their values are never logged. */
const SECRET_KEYS: ReadonlySet<ConfigKey> = new Set([
  'database_url',
  'direct_db_urls',
  'buckets_direct_db_urls',
  'agent_auth_token',
  'api_token',
  'api_token_read',
]);

function valueAt(config: ManagerConfig, key: ConfigKey): unknown {
  const [head, tail] = key.split('.') as [string, string | undefined];
  const top = (config as unknown as Record<string, unknown>)[head];
  return tail === undefined ? top : (top as Record<string, unknown>)[tail];
}

function setValue(config: ManagerConfig, key: ConfigKey, value: unknown): void {
  const [head, tail] = key.split('.') as [string, string | undefined];
  const record = config as unknown as Record<string, unknown>;
  if (tail === undefined) record[head] = value;
  else (record[head] as Record<string, unknown>)[tail] = value;
}

export interface RefusedChange {
  key: ConfigKey;
  /** Absent for keys that may hold credentials. */
  current?: unknown;
  requested?: unknown;
}

export interface ReloadOutcome {
  /** The config to run with: the new file's values, but the running ones for `restart` keys. */
  config: ManagerConfig;
  live: ConfigKey[];
  newJobs: ConfigKey[];
  refused: RefusedChange[];
}

/** Merges `next` (the re-read file) into `running`; neither is modified. */
export function reloadConfig(running: ManagerConfig, next: ManagerConfig): ReloadOutcome {
  const config: ManagerConfig = {
    ...next,
    options: { ...next.options },
    mdapi: { ...next.mdapi },
  };
  const outcome: ReloadOutcome = { config, live: [], newJobs: [], refused: [] };
  for (const key of CONFIG_KEYS) {
    const was = valueAt(running, key);
    const now = valueAt(next, key);
    if (isDeepStrictEqual(was, now)) continue;
    const kind = RELOAD_CLASSES[key];
    if (kind === 'live') outcome.live.push(key);
    else if (kind === 'new-jobs') outcome.newJobs.push(key);
    else {
      setValue(config, key, was);
      outcome.refused.push(
        SECRET_KEYS.has(key)
          ? { key }
          : { key, current: printable(was), requested: printable(now) },
      );
    }
  }
  return outcome;
}

/** Maps (host_aliases, direct_db_urls) as objects, for a JSON log record. */
function printable(value: unknown): unknown {
  return value instanceof Map ? Object.fromEntries(value) : value;
}

/** One warning per refused key, naming it, then a summary of what changed and how. */
export function logReload(log: Logger, outcome: ReloadOutcome): void {
  for (const r of outcome.refused) {
    log.warn(
      { key: r.key, current: r.current, requested: r.requested },
      `config key ${r.key} cannot change without a restart: keeping the running value`,
    );
  }
  log.info(
    {
      live: outcome.live,
      new_jobs: outcome.newJobs,
      refused: outcome.refused.map((r) => r.key),
    },
    'configuration reloaded',
  );
}
