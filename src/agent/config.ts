/**
 * Agent configuration (agent.md §5): L's TOML keys and defaults, plus options the
 * recommendations call for (state and object roots, queue limit, auth, retention, ...).
 * Sources, later ones winning: defaults < config file (TOML or JSON) < environment
 * (`REBALANCER_AGENT_<KEY>`, `REBALANCER_AGENT_METRICS_<KEY>`) < command-line flags.
 * Anything invalid is a ConfigError naming the option.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parse as parseToml, TomlError } from 'smol-toml';
import { RebalancerError } from '../errors.ts';
import {
  type HostAliases,
  type IdPolicy,
  isMantaDomain,
  NO_ALIASES,
  parseHostAliases,
} from '../manta/index.ts';
import { envName, LEVELS, OPTIONS, type OptionSpec, optionName } from './options.ts';

export interface MetricsConfig {
  enabled: boolean;
  host: string;
  port: number;
  datacenter: string;
  service: string;
  server: string;
}

export interface AgentConfig {
  host: string;
  port: number;
  /** Assignments dispatching at once. */
  workers: number;
  /** Parallel downloads within one assignment. */
  workersPerAssignment: number;
  /** Parallel downloads overall (default workers × workersPerAssignment). */
  maxDownloads: number;
  /** Idle timeout: waiting for response headers or the next body chunk. */
  downloadTimeoutSecs: number;
  connectTimeoutSecs: number;
  /** Download bandwidth of all downloads together; 0: unlimited. Reloadable. */
  maxBytesPerSecond: number;
  retryDelaysMs: number[];
  /** Assignments queued or running before POST answers 503 (default workers × 50). */
  maxQueued: number;
  maxTasksPerAssignment: number;
  bodyLimitBytes: number;
  authToken: string | undefined;
  stateDir: string;
  objectRoot: string;
  idPolicy: IdPolicy;
  allowHostPortSources: boolean;
  /** Manta DNS domain: task sources must be `N.stor.<domain>` (or named by an alias). */
  domainName: string | undefined;
  /** Where source storage ids are served when DNS cannot resolve them (sandbox, tests). */
  hostAliases: HostAliases;
  completedRetentionSecs: number;
  shutdownGraceSecs: number;
  /** Reloadable. */
  logLevel: string;
  metrics: MetricsConfig;
}

export class ConfigError extends RebalancerError {
  override readonly name = 'ConfigError';
  readonly code = 'agent_config_invalid';
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(`${option}: ${message}`);
  }
}

export const DEFAULT_CONFIG_PATH = '/opt/smartdc/rebalancer-agent/etc/config.toml';

type Value = string | number | boolean | number[];
type Settings = Map<string, Value>;

function coerce(spec: OptionSpec, raw: unknown, fromText: boolean): Value {
  const name = optionName(spec);
  const intCheck = (n: unknown): number => {
    const v = fromText && typeof n === 'string' && /^-?[0-9]+$/.test(n.trim()) ? Number(n) : n;
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
      throw new ConfigError(name, `must be an integer, got ${JSON.stringify(n)}`);
    }
    if (spec.min !== undefined && v < spec.min)
      throw new ConfigError(name, `must be >= ${spec.min}`);
    if (spec.max !== undefined && v > spec.max)
      throw new ConfigError(name, `must be <= ${spec.max}`);
    return v;
  };
  switch (spec.kind) {
    case 'string':
      if (typeof raw !== 'string') throw new ConfigError(name, 'must be a string');
      return raw;
    case 'int':
      return intCheck(raw);
    case 'bool':
      if (typeof raw === 'boolean') return raw;
      if (fromText && (raw === 'true' || raw === 'false')) return raw === 'true';
      throw new ConfigError(name, 'must be true or false');
    case 'intList': {
      const list =
        fromText && typeof raw === 'string' ? raw.split(',').filter((s) => s.trim() !== '') : raw;
      if (!Array.isArray(list)) throw new ConfigError(name, 'must be a list of integers');
      return list.map((v) => intCheck(v));
    }
    case 'idPolicy':
      if (raw !== 'uuid' && raw !== 'token')
        throw new ConfigError(name, 'must be "uuid" or "token"');
      return raw;
    case 'level':
      if (typeof raw !== 'string' || !LEVELS.includes(raw)) {
        throw new ConfigError(name, `must be one of ${LEVELS.join(', ')}`);
      }
      return raw;
  }
}

/**
 * Reads a config file: JSON when it ends in .json or starts with `{`, TOML (any valid TOML 1.1)
 * otherwise. A syntax error names the file, and for TOML the line and column.
 */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError('config', `cannot read ${path}: ${(err as Error).message}`);
  }
  if (path.endsWith('.json') || text.trimStart().startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new ConfigError('config', `cannot parse ${path} as JSON: ${(err as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new ConfigError('config', `${path}: must be an object`);
    }
    return parsed as Record<string, unknown>;
  }
  try {
    // Tables come back without a prototype: a `__proto__` key is an unknown option, no more.
    return parseToml(text);
  } catch (err) {
    if (!(err instanceof TomlError)) throw err;
    // smol-toml's message is `Invalid TOML document: <reason>` and a multi-line excerpt.
    const reason = (err.message.split('\n')[0] ?? '').replace(/^Invalid TOML document: /, '');
    throw new ConfigError(
      'config',
      `cannot parse ${path} as TOML: line ${err.line}, column ${err.column}: ${reason}`,
    );
  }
}

function fromFile(file: Record<string, unknown>, settings: Settings): void {
  for (const [section, body] of Object.entries(file)) {
    if (section !== 'server' && section !== 'metrics') {
      throw new ConfigError(section, 'unknown section (expected [server] and [metrics])');
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new ConfigError(section, 'must be a table');
    }
    for (const [key, raw] of Object.entries(body)) {
      const spec = OPTIONS.find((o) => o.section === section && o.key === key);
      if (!spec) throw new ConfigError(`${section}.${key}`, 'unknown option');
      settings.set(optionName(spec), coerce(spec, raw, false));
    }
  }
}

export interface ConfigSources {
  /** Parsed config file contents (see readConfigFile). */
  readonly file?: Record<string, unknown>;
  readonly env?: NodeJS.ProcessEnv;
  /** Command-line values by option name (`server.workers`), as text. */
  readonly flags?: ReadonlyMap<string, string>;
}

/** Merges the sources over the defaults and checks the result. */
export function resolveConfig(sources: ConfigSources): AgentConfig {
  const settings: Settings = new Map();
  if (sources.file) fromFile(sources.file, settings);
  for (const spec of OPTIONS) {
    const raw = sources.env?.[envName(spec)];
    if (raw !== undefined && raw !== '') settings.set(optionName(spec), coerce(spec, raw, true));
  }
  for (const [name, raw] of sources.flags ?? []) {
    const spec = OPTIONS.find((o) => optionName(o) === name);
    if (!spec) throw new ConfigError(name, 'unknown option');
    settings.set(name, coerce(spec, raw, true));
  }
  const get = <T extends Value>(name: string, fallback: T): T =>
    (settings.get(name) as T) ?? fallback;
  const workers = get('server.workers', 4);
  const perAssignment = get('server.workers_per_assignment', 4);
  const token = settings.get('server.auth_token') as string | undefined;
  if (token !== undefined && token.length < 16) {
    throw new ConfigError('server.auth_token', 'must be at least 16 characters');
  }
  return {
    host: get('server.host', '0.0.0.0'),
    port: get('server.port', 7878),
    workers,
    workersPerAssignment: perAssignment,
    maxDownloads: get('server.max_downloads', workers * perAssignment),
    downloadTimeoutSecs: get('server.download_timeout_secs', 120),
    connectTimeoutSecs: get('server.connect_timeout_secs', 10),
    maxBytesPerSecond: get('server.max_bytes_per_second', 0),
    retryDelaysMs: get('server.retry_delays_ms', [1000, 2000, 4000]),
    maxQueued: get('server.max_queued', workers * 50),
    maxTasksPerAssignment: get('server.max_tasks_per_assignment', 100_000),
    // 8 MiB ≈ 25,000 v2 tasks (L's manager sends 50). Measured with the 64 MiB heap cap: eight
    // concurrent 8 MiB bodies are served; one of 31 MiB (100,000 tasks) exhausts the heap.
    bodyLimitBytes: get('server.body_limit_bytes', 8 * 1024 * 1024),
    authToken: token,
    stateDir: get('server.state_dir', '/var/tmp/rebalancer'),
    objectRoot: get('server.object_root', '/manta'),
    idPolicy: get('server.id_policy', 'uuid') as IdPolicy,
    allowHostPortSources: get('server.allow_host_port_sources', false),
    domainName: domainName(settings.get('server.domain_name') as string | undefined),
    hostAliases: loadHostAliases(settings.get('server.host_aliases_file') as string | undefined),
    completedRetentionSecs: get('server.completed_retention_secs', 7 * 24 * 3600),
    shutdownGraceSecs: get('server.shutdown_grace_secs', 20),
    logLevel: get('server.log_level', 'info'),
    metrics: {
      enabled: get('metrics.enabled', true),
      host: get('metrics.host', '0.0.0.0'),
      port: get('metrics.port', 8878),
      datacenter: get('metrics.datacenter', 'development'),
      service: get('metrics.service', '1.rebalancer.localhost'),
      server: get('metrics.server', '127.0.0.1'),
    },
  };
}

function domainName(value: string | undefined): string | undefined {
  if (value === undefined || isMantaDomain(value)) return value;
  throw new ConfigError('server.domain_name', `${JSON.stringify(value)} is not a DNS domain`);
}

function loadHostAliases(file: string | undefined): HostAliases {
  if (file === undefined) return NO_ALIASES;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(
      'server.host_aliases_file',
      `cannot read ${file}: ${(err as Error).message}`,
    );
  }
  try {
    return parseHostAliases(JSON.parse(text), file);
  } catch (err) {
    throw new ConfigError('server.host_aliases_file', (err as Error).message);
  }
}

/**
 * The config file to read: the explicit path, else REBALANCER_AGENT_CONFIG, else L's
 * fixed path when it exists; undefined means defaults only.
 */
export function configPath(
  explicit: string | undefined,
  env: NodeJS.ProcessEnv,
): string | undefined {
  if (explicit !== undefined) return explicit;
  if (env.REBALANCER_AGENT_CONFIG) return env.REBALANCER_AGENT_CONFIG;
  return existsSync(DEFAULT_CONFIG_PATH) ? DEFAULT_CONFIG_PATH : undefined;
}
