/**
 * The agent's options (agent.md §5): each by file section and key, with its kind, range and
 * help, and the environment variable and flag that also set it.
 */

type Kind = 'string' | 'int' | 'bool' | 'intList' | 'idPolicy' | 'level';

export interface OptionSpec {
  readonly section: 'server' | 'metrics';
  readonly key: string;
  readonly kind: Kind;
  readonly min?: number;
  readonly max?: number;
  readonly help: string;
}

export const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/** Every option, by file section and key. */
export const OPTIONS: readonly OptionSpec[] = [
  { section: 'server', key: 'host', kind: 'string', help: 'API listen address' },
  { section: 'server', key: 'port', kind: 'int', min: 0, max: 65535, help: 'API listen port' },
  {
    section: 'server',
    key: 'workers',
    kind: 'int',
    min: 1,
    max: 1024,
    help: 'assignments processed at once',
  },
  {
    section: 'server',
    key: 'workers_per_assignment',
    kind: 'int',
    min: 1,
    max: 1024,
    help: 'parallel downloads within one assignment',
  },
  {
    section: 'server',
    key: 'max_downloads',
    kind: 'int',
    min: 1,
    max: 65536,
    help: 'parallel downloads overall',
  },
  {
    section: 'server',
    key: 'download_timeout_secs',
    kind: 'int',
    min: 1,
    help: 'idle timeout for response headers and each body chunk',
  },
  {
    section: 'server',
    key: 'max_bytes_per_second',
    kind: 'int',
    min: 0,
    help: 'download bandwidth cap, all downloads together (0: unlimited; reloaded on SIGHUP)',
  },
  {
    section: 'server',
    key: 'connect_timeout_secs',
    kind: 'int',
    min: 1,
    help: 'TCP connect timeout',
  },
  {
    section: 'server',
    key: 'retry_delays_ms',
    kind: 'intList',
    min: 0,
    help: 'delays before retrying a transport failure (comma-separated)',
  },
  {
    section: 'server',
    key: 'max_queued',
    kind: 'int',
    min: 1,
    help: 'queued+running assignments before 503',
  },
  {
    section: 'server',
    key: 'max_tasks_per_assignment',
    kind: 'int',
    min: 1,
    help: 'tasks per assignment',
  },
  { section: 'server', key: 'body_limit_bytes', kind: 'int', min: 1024, help: 'largest POST body' },
  {
    section: 'server',
    key: 'auth_token',
    kind: 'string',
    help: 'bearer token required on every request',
  },
  { section: 'server', key: 'state_dir', kind: 'string', help: 'directory of the agent database' },
  { section: 'server', key: 'object_root', kind: 'string', help: 'object store root (/manta)' },
  {
    section: 'server',
    key: 'id_policy',
    kind: 'idPolicy',
    help: 'owner/object id form: uuid or token',
  },
  {
    section: 'server',
    key: 'allow_host_port_sources',
    kind: 'bool',
    help: 'accept host:port source ids (test deployments)',
  },
  {
    section: 'server',
    key: 'domain_name',
    kind: 'string',
    help: 'Manta DNS domain: task sources must be N.stor.<domain_name>',
  },
  {
    section: 'server',
    key: 'host_aliases_file',
    kind: 'string',
    help: 'JSON file of "name:port": "host:port" source aliases (test deployments)',
  },
  {
    section: 'server',
    key: 'completed_retention_secs',
    kind: 'int',
    min: 0,
    help: 'keep completed assignments this long (0: forever)',
  },
  {
    section: 'server',
    key: 'shutdown_grace_secs',
    kind: 'int',
    min: 0,
    help: 'time in-flight tasks get at shutdown',
  },
  {
    section: 'server',
    key: 'log_level',
    kind: 'level',
    help: `${LEVELS.join('|')} (reloaded on SIGHUP)`,
  },
  { section: 'metrics', key: 'enabled', kind: 'bool', help: 'serve metrics' },
  { section: 'metrics', key: 'host', kind: 'string', help: 'metrics listen address' },
  { section: 'metrics', key: 'port', kind: 'int', min: 0, max: 65535, help: 'metrics listen port' },
  { section: 'metrics', key: 'datacenter', kind: 'string', help: 'constant label datacenter' },
  { section: 'metrics', key: 'service', kind: 'string', help: 'constant label service' },
  { section: 'metrics', key: 'server', kind: 'string', help: 'constant label server' },
];

export function optionName(spec: OptionSpec): string {
  return `${spec.section}.${spec.key}`;
}

/** `REBALANCER_AGENT_WORKERS`, `REBALANCER_AGENT_METRICS_PORT` (the SAPI names, §5.2). */
export function envName(spec: OptionSpec): string {
  const prefix = spec.section === 'server' ? 'REBALANCER_AGENT_' : 'REBALANCER_AGENT_METRICS_';
  return prefix + spec.key.toUpperCase();
}

/** `--workers-per-assignment`, `--metrics-port`. */
export function flagName(spec: OptionSpec): string {
  const key = spec.key.replaceAll('_', '-');
  return spec.section === 'server' ? key : `metrics-${key}`;
}
