/**
 * The manager's config.json (manager.md §6): L's keys and defaults, plus ours (database,
 * listen address, storinfo URL, agent port, metrics port). Unlike L, a bad value is an error
 * naming the key, not a silent default (§13.12); unknown keys are still ignored, as L does,
 * so a config rendered for L keeps working.
 */
import { readFile } from 'node:fs/promises';
import { type HostAliases, isStorageId, NO_ALIASES, parseHostAliases } from '../manta/index.ts';
import { ConfigError, isObject, type Json, Reader } from './config-reader.ts';

export { ConfigError };

export const DEFAULT_CONFIG_PATH = '/opt/smartdc/rebalancer/config.json';
export const DEFAULT_EXCLUDE_KEY_PREFIXES = [
  '/stor/logs/',
  '/stor/usage/',
  '/stor/manatee_backups/',
];

export interface ManagerOptions {
  max_tasks_per_assignment: number;
  max_metadata_update_threads: number;
  max_md_read_threads: number;
  max_sharks: number;
  use_static_md_update_threads: boolean;
  static_queue_depth: number;
  max_assignment_age: number;
  use_batched_updates: boolean;
  md_read_chunk_size: number;
  shark_list_retry_delay_ms: number;
  exclude_key_prefixes: string[];
  /**
   * Ours (L's picker has a blocklist but no config key): storage ids never used as
   * destinations, e.g. sharks about to be evacuated or being repaired.
   */
  blocklist: string[];
  /** Ours (D's `BLACKLIST_DATACENTERS`): datacenters whose sharks are never destinations. */
  blocked_datacenters: string[];
}

export interface MdapiConfig {
  /** buckets-mdapi shards; the number is the first label of the host (L). */
  shards: { host: string; shard: number }[];
  connection_timeout_ms: number;
  max_batch_size: number;
  operation_timeout_ms: number;
  max_retries: number;
  initial_backoff_ms: number;
  max_backoff_ms: number;
  /**
   * Ours: the vnode count of the buckets placement ring (buckets-mdplacement), needed only to
   * find an MPU part's upload record; 0 (default): upload records are not rewritten.
   */
  vnode_count: number;
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

export interface ManagerConfig {
  domain_name: string;
  shards: { host: string; shard: number }[];
  listen_port: number;
  log_level: LogLevel;
  max_fill_percentage: number;
  snaplink_cleanup_required: boolean;
  direct_db: boolean;
  /**
   * Ours: with direct_db, the PostgreSQL URL of each shard's clone, by shard number; a shard
   * not listed uses L's name `postgres://postgres@<N>.rebalancer-postgres.<domain>:5432/moray`.
   */
  direct_db_urls: ReadonlyMap<number, string>;
  /**
   * Ours: with direct_db, the PostgreSQL URL of each buckets shard's clone; a shard not listed
   * uses L's `postgres://postgres@<N>.rebalancer-buckets-postgres.<domain>:5432/buckets_metadata`.
   */
  buckets_direct_db_urls: ReadonlyMap<number, string>;
  options: ManagerOptions;
  mdapi: MdapiConfig;
  /** Ours: PostgreSQL URL; embedded PGlite when absent. */
  database_url: string | undefined;
  /** Ours: PGlite data directory when no database_url (in memory when absent). */
  database_dir: string | undefined;
  /** Ours: address the API listens on (L: 0.0.0.0). */
  listen_address: string;
  /** Ours: storinfo base URL (L: http://storinfo.<domain_name>). */
  storinfo_url: string;
  /** Ours: the agents' port (L hard-codes 7878). */
  agent_port: number;
  /**
   * Ours: where Manta names are served when DNS cannot resolve them (the sandbox, tests):
   * `{"1.moray.<domain>:2020": "127.0.0.1:4001", "1.stor.<domain>:7878": "127.0.0.1:4002"}`.
   */
  host_aliases: HostAliases;
  /** Ours: Prometheus port (L hard-codes 8878); 0 serves metrics only on the API's /metrics. */
  metrics_port: number;
  /**
   * Ours: longest silence of a Moray request waiting for its answer or its stream's next
   * record (L had none: a hung shard stalled its job). Not a cap on a long stream.
   */
  moray_operation_timeout_ms: number;
  /**
   * Ours: how long an agent may not answer (a restart, a blip) before the assignments it holds
   * are given up and their objects placed elsewhere (L gave up after a few failed polls).
   */
  agent_outage_tolerance_ms: number;
  /**
   * Ours: the agents' `server.auth_token`, sent as `authorization: Bearer <token>`; absent,
   * no token is sent (agents without auth_token).
   */
  agent_auth_token: string | undefined;
  /**
   * Ours (issue 17): the bearer token every mutating request (not GET/HEAD) must carry;
   * absent, the API is open, as L's was.
   */
  api_token: string | undefined;
  /** Ours (issue 17): with it, reads need it or api_token too (only with api_token). */
  api_token_read: string | undefined;
  /** Ours: the `datacenter` label of every metric (L: `development`); `unknown` when absent. */
  datacenter: string | undefined;
  /**
   * Ours (issue 15): metadata updates per second per metadata shard over every job together
   * (Manta's metadata tier is the shared bottleneck, about 160 a shard); null: unlimited.
   */
  metadata_updates_per_second_per_shard: number | null;
  /** Ours (issue 15): seconds a running job may move nothing before it is reported stalled. */
  stall_after_seconds: number;
  /** Ours (issue 16): seconds between an evacuation's convergence rounds. */
  converge_delay_seconds: number;
  /** Ours (issue 17): seconds between the kept samples of a job's progress (its chart). */
  progress_history_seconds: number;
  /**
   * Ours (issue 19): days a finished job is kept after it last changed; older ones are deleted
   * with all their rows, at start and hourly. null (absent): kept forever.
   */
  job_retention_days: number | null;
}

const LOG_LEVELS: Record<string, LogLevel> = {
  critical: 'fatal',
  crit: 'fatal',
  error: 'error',
  warning: 'warn',
  warn: 'warn',
  info: 'info',
  debug: 'debug',
  trace: 'trace',
};

/** Shard number of a Moray host (`1.moray.example.com` → 1); a non-number is an error (§13.12). */
function shardNumber(host: string, key: string): number {
  const m = /^([0-9]+)\./.exec(host);
  if (!m)
    throw new ConfigError(key, `host ${JSON.stringify(host)} does not start with a shard number`);
  return Number(m[1]);
}

/** `key`'s hosts with their shard numbers, sorted; a number listed twice is an error. */
function numberedShards(r: Reader, key: string, required: boolean) {
  const shards = r.hosts(key, required).map((s, i) => ({
    host: s.host,
    shard: shardNumber(s.host, `${r.path(key)}[${i}].host`),
  }));
  shards.sort((a, b) => a.shard - b.shard);
  for (let i = 1; i < shards.length; i++) {
    if (shards[i]?.shard === shards[i - 1]?.shard) {
      throw new ConfigError(r.path(key), `shard ${shards[i]?.shard} is listed twice`);
    }
  }
  return shards;
}

/** A key read but not as written (L's template typo); the caller logs it, once per load. */
export interface ConfigWarning {
  key: string;
  message: string;
}

type Warn = (warning: ConfigWarning) => void;

/**
 * L's SAPI template writes MUSKIE_MAX_UTILIZATION_PCT as `max_fill_precentage`, so L never read
 * it; a config rendered from that template is read as meant, and the operator told to rename it.
 */
function maxFillKey(raw: Json, warn: Warn | undefined): string {
  if (raw.max_fill_precentage === undefined) return 'max_fill_percentage';
  const both = raw.max_fill_percentage !== undefined;
  warn?.({
    key: 'max_fill_precentage',
    message: both
      ? "max_fill_precentage (a typo in L's template) is ignored: max_fill_percentage is also set and wins"
      : "max_fill_precentage (a typo in L's template) is read as max_fill_percentage: rename it",
  });
  return both ? 'max_fill_percentage' : 'max_fill_precentage';
}

export function parseConfig(raw: unknown, warn?: Warn): ManagerConfig {
  if (!isObject(raw)) throw new ConfigError('(root)', 'the configuration must be a JSON object');
  const r = new Reader(raw, '');
  const domain = r.str('domain_name', undefined);
  if (domain === undefined) throw new ConfigError('domain_name', 'is required');
  const shards = numberedShards(r, 'shards', true);
  if (shards.length === 0) throw new ConfigError('shards', 'must contain at least one shard');
  const levelText = (r.str('log_level', 'debug') ?? 'debug').toLowerCase();
  const level = LOG_LEVELS[levelText];
  if (!level) throw new ConfigError('log_level', `unknown level ${JSON.stringify(levelText)}`);
  const o = r.sub('options');
  const m = r.sub('mdapi');
  const apiToken = bearerToken('api_token', r.str('api_token', undefined));
  const apiTokenRead = bearerToken('api_token_read', r.str('api_token_read', undefined));
  // A read token alone would guard reads and leave every mutating route open.
  if (apiTokenRead !== undefined && apiToken === undefined) {
    throw new ConfigError('api_token_read', 'needs api_token (which guards every change)');
  }
  return {
    domain_name: domain,
    shards,
    listen_port: r.int('listen_port', 80, 0, 65535),
    log_level: level,
    max_fill_percentage: r.int(maxFillKey(raw, warn), 100, 1, 100),
    snaplink_cleanup_required: r.bool('snaplink_cleanup_required', false),
    direct_db: r.bool('direct_db', false),
    direct_db_urls: directDbUrls(raw.direct_db_urls, 'direct_db_urls'),
    buckets_direct_db_urls: directDbUrls(raw.buckets_direct_db_urls, 'buckets_direct_db_urls'),
    options: {
      max_tasks_per_assignment: o.int('max_tasks_per_assignment', 50, 1, 100_000),
      max_metadata_update_threads: o.int('max_metadata_update_threads', 10, 1, 1000),
      max_md_read_threads: o.int('max_md_read_threads', 10, 1, 100),
      max_sharks: o.int('max_sharks', 5, 1, 10_000),
      use_static_md_update_threads: o.bool('use_static_md_update_threads', false),
      static_queue_depth: o.int('static_queue_depth', 10, 1, 100_000),
      max_assignment_age: o.int('max_assignment_age', 3600, 1, 7 * 86_400),
      use_batched_updates: o.bool('use_batched_updates', false),
      md_read_chunk_size: o.int('md_read_chunk_size', 10_000, 1, 1_000_000),
      shark_list_retry_delay_ms: o.int('shark_list_retry_delay_ms', 500, 0, 3_600_000),
      exclude_key_prefixes: o.strings('exclude_key_prefixes', DEFAULT_EXCLUDE_KEY_PREFIXES),
      blocklist: o.names('blocklist', 'a storage id (N.stor.<domain>)', (id) =>
        isStorageId(id, { allowHostPort: true }),
      ),
      blocked_datacenters: o.names('blocked_datacenters', 'a datacenter name', (dc) =>
        /^\S+$/.test(dc),
      ),
    },
    mdapi: {
      shards: numberedShards(m, 'shards', false),
      connection_timeout_ms: m.int('connection_timeout_ms', 5000, 1, 3_600_000),
      max_batch_size: m.int('max_batch_size', 100, 1, 100_000),
      operation_timeout_ms: m.int('operation_timeout_ms', 30_000, 1, 3_600_000),
      max_retries: m.int('max_retries', 3, 0, 100),
      initial_backoff_ms: m.int('initial_backoff_ms', 100, 0, 3_600_000),
      max_backoff_ms: m.int('max_backoff_ms', 5000, 0, 3_600_000),
      vnode_count: m.int('vnode_count', 0, 0, 1_000_000),
    },
    database_url: r.str('database_url', undefined),
    database_dir: r.str('database_dir', undefined),
    listen_address: r.str('listen_address', '0.0.0.0') ?? '0.0.0.0',
    storinfo_url: r.str('storinfo_url', `http://storinfo.${domain}`) ?? `http://storinfo.${domain}`,
    agent_port: r.int('agent_port', 7878, 1, 65535),
    moray_operation_timeout_ms: r.int('moray_operation_timeout_ms', 60_000, 100, 3_600_000),
    agent_outage_tolerance_ms: r.int('agent_outage_tolerance_ms', 300_000, 0, 86_400_000),
    metrics_port: r.int('metrics_port', 8878, 0, 65535),
    host_aliases: hostAliases(raw.host_aliases),
    agent_auth_token: bearerToken('agent_auth_token', r.str('agent_auth_token', undefined)),
    api_token: apiToken,
    api_token_read: apiTokenRead,
    datacenter: r.str('datacenter', undefined),
    metadata_updates_per_second_per_shard: r.intOrNull(
      'metadata_updates_per_second_per_shard',
      1,
      1_000_000,
    ),
    stall_after_seconds: r.int('stall_after_seconds', 300, 1, 7 * 86_400),
    progress_history_seconds: r.int('progress_history_seconds', 10, 1, 3600),
    job_retention_days: r.intOrNull('job_retention_days', 1, 36_500),
    converge_delay_seconds: r.int('converge_delay_seconds', 10, 0, 3600),
  };
}

/**
 * The agent refuses a token under 16 characters (agent.md): so does the manager, for its own
 * tokens too (a short one is guessable).
 */
function bearerToken(key: string, token: string | undefined): string | undefined {
  if (token !== undefined && token.length < 16) {
    throw new ConfigError(key, 'must be at least 16 characters');
  }
  // It goes into an HTTP header.
  if (token !== undefined && [...token].some((ch) => ch < ' ' || ch === '\u007f')) {
    throw new ConfigError(key, 'must not contain control characters');
  }
  return token;
}

/** L's discovery range: the lowest and highest configured shard numbers (`shards` is sorted). */
export function shardRange(config: Pick<ManagerConfig, 'shards'>): { min: number; max: number } {
  const first = config.shards[0];
  const last = config.shards[config.shards.length - 1];
  if (!first || !last) throw new ConfigError('shards', 'must contain at least one shard');
  return { min: first.shard, max: last.shard };
}

function directDbUrls(value: unknown, name: string): ReadonlyMap<number, string> {
  const urls = new Map<number, string>();
  if (value === undefined || value === null) return urls;
  if (!isObject(value)) {
    throw new ConfigError(name, 'must be an object of shard number → PostgreSQL URL');
  }
  for (const [shard, url] of Object.entries(value)) {
    const key = `${name}.${shard}`;
    if (!/^[0-9]+$/.test(shard)) throw new ConfigError(key, 'the key must be a shard number');
    if (typeof url !== 'string' || !/^postgres(ql)?:\/\//.test(url)) {
      throw new ConfigError(key, 'must be a postgres:// URL');
    }
    urls.set(Number(shard), url);
  }
  return urls;
}

/** Where direct-db discovery reads a shard: its configured URL, or L's pgclone name. */
export function directDbUrl(config: ManagerConfig, shard: number): string {
  return (
    config.direct_db_urls.get(shard) ??
    `postgres://postgres@${shard}.rebalancer-postgres.${config.domain_name}:5432/moray`
  );
}

/** Where direct-db discovery reads a buckets shard: its configured URL, or L's pgclone name. */
export function bucketsDirectDbUrl(config: ManagerConfig, shard: number): string {
  return (
    config.buckets_direct_db_urls.get(shard) ??
    `postgres://postgres@${shard}.rebalancer-buckets-postgres.${config.domain_name}:5432/buckets_metadata`
  );
}

function hostAliases(value: unknown): HostAliases {
  if (value === undefined || value === null) return NO_ALIASES;
  try {
    return parseHostAliases(value);
  } catch (err) {
    throw new ConfigError('host_aliases', (err as Error).message);
  }
}

/** Exclusion prefixes in effect: `["none"]` or an empty list disables them (§6.3). */
export function effectiveExcludePrefixes(options: ManagerOptions): string[] {
  const list = options.exclude_key_prefixes;
  return list.length === 1 && list[0] === 'none' ? [] : list;
}

export async function loadConfig(path: string, warn?: Warn): Promise<ManagerConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError('(file)', `cannot read ${path}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError('(file)', `${path} is not valid JSON: ${(err as Error).message}`);
  }
  return parseConfig(raw, warn);
}
