/**
 * deploy/sapi: each template rendered as config-agent renders it (mustache, with hogan.js's
 * escaping) from realistic SAPI metadata, then read by the service's own loader.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Mustache from 'mustache';
import {
  DEFAULT_CONFIG_PATH as AGENT_CONFIG_PATH,
  type AgentConfig,
  readConfigFile,
  resolveConfig,
} from '../../src/agent/config.ts';
import {
  type ConfigWarning,
  effectiveExcludePrefixes,
  loadConfig,
  DEFAULT_CONFIG_PATH as MANAGER_CONFIG_PATH,
  type ManagerConfig,
} from '../../src/manager/config.ts';

const SAPI = new URL('../../deploy/sapi/', import.meta.url);
const DOMAIN = 'us-east.example.com';
const TOKEN = 'agent-token-0123456789abcdef';

/** hogan.js, which config-agent renders with, escapes these five (mustache.js also `/`, `=`). */
const HOGAN_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  "'": '&#39;',
  '"': '&quot;',
};
const hoganEscape = (value: unknown): string =>
  String(value).replace(/[&<>'"]/g, (c) => HOGAN_ESCAPES[c]!);

/** SAPI lists, as manta-deployment stores them: objects, the last one marked. */
function sapiList<K extends string>(key: K, values: string[]): Record<K | 'last', unknown>[] {
  return values.map((v, i) => ({ [key]: v, last: i === values.length - 1 }) as never);
}

/** A region's metadata: what every Manta zone's config-agent sees (application + instance). */
const REGION = {
  DOMAIN_NAME: DOMAIN,
  DATACENTER: 'us-east-1',
  SERVICE_NAME: `stor.${DOMAIN}`,
  auto: { SERVER_UUID: '0c7c9c4e-0000-4000-8000-000000000001' },
  INDEX_MORAY_SHARDS: sapiList(
    'host',
    [2, 3, 10, 4].map((n) => `${n}.moray.${DOMAIN}`),
  ),
  BUCKETS_MORAY_SHARDS: sapiList('host', [
    `1.buckets-mdapi.${DOMAIN}`,
    `2.buckets-mdapi.${DOMAIN}`,
  ]),
};

async function template(
  service: string,
): Promise<{ manifest: Record<string, unknown>; text: string }> {
  const manifest = JSON.parse(await readFile(new URL(`${service}/manifest.json`, SAPI), 'utf8'));
  return { manifest, text: await readFile(new URL(`${service}/template`, SAPI), 'utf8') };
}

describe('SAPI templates (deploy/sapi)', () => {
  let dir: string;
  let manager: string;
  let agent: string;
  let n = 0;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'deploy-templates-'));
    manager = (await template('rebalancer')).text;
    agent = (await template('agent')).text;
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Renders the manager's template and loads the file with src/manager/config.ts. */
  async function renderManager(metadata: object): Promise<ManagerConfig> {
    const path = join(dir, `config-${n++}.json`);
    await writeFile(path, Mustache.render(manager, metadata, {}, { escape: hoganEscape }));
    const warnings: ConfigWarning[] = [];
    const config = await loadConfig(path, (w) => warnings.push(w));
    assert.deepEqual(warnings, [], 'the template spells every key right');
    return config;
  }

  /** Renders the agent's template and reads the file as rebalancer-agent does. */
  async function renderAgent(metadata: object): Promise<AgentConfig> {
    const path = join(dir, `config-${n++}.toml`);
    await writeFile(path, Mustache.render(agent, metadata, {}, { escape: hoganEscape }));
    return resolveConfig({ file: readConfigFile(path) });
  }

  test('manifests: the paths the services read, refreshed by their SMF FMRIs', async () => {
    assert.deepEqual((await template('rebalancer')).manifest, {
      name: 'rebalancer',
      path: MANAGER_CONFIG_PATH,
      master: true,
      post_cmd: '/usr/sbin/svcadm refresh svc:/manta/application/rebalancer:default',
    });
    assert.deepEqual((await template('agent')).manifest, {
      name: 'rebalancer-agent',
      path: AGENT_CONFIG_PATH,
      master: true,
      post_cmd: '/usr/sbin/svcadm refresh svc:/manta/application/rebalancer-agent:default',
    });
  });

  test('manager, region defaults: every index and buckets shard, Moray discovery', async () => {
    const c = await renderManager(REGION);
    assert.equal(c.domain_name, DOMAIN);
    assert.deepEqual(
      c.shards.map((s) => s.shard),
      [2, 3, 4, 10],
    );
    assert.deepEqual(
      c.mdapi.shards.map((s) => s.host),
      [`1.buckets-mdapi.${DOMAIN}`, `2.buckets-mdapi.${DOMAIN}`],
    );
    assert.equal(c.listen_port, 80);
    assert.equal(c.log_level, 'debug');
    assert.equal(c.direct_db, false, 'unset: the manager’s default');
    assert.equal(c.max_fill_percentage, 100);
    assert.equal(c.database_url, 'postgres://postgres@localhost:5432/rebalancer_manager');
    assert.equal(c.datacenter, 'us-east-1');
    assert.deepEqual(effectiveExcludePrefixes(c.options), [
      '/stor/logs/',
      '/stor/usage/',
      '/stor/manatee_backups/',
    ]);
    assert.equal(c.options.max_tasks_per_assignment, 50);
    assert.equal(c.options.md_read_chunk_size, 10_000);
    assert.equal(c.agent_auth_token, undefined);
    assert.equal(c.agent_port, 7878);
    assert.equal(c.mdapi.connection_timeout_ms, 5000);
  });

  test('manager, every variable set: direct-db, exclude prefixes, tuning, tokens', async () => {
    const c = await renderManager({
      ...REGION,
      REBALANCER_DIRECT_DB: true,
      REBALANCER_EXCLUDE_KEY_PREFIXES: sapiList('value', ['/stor/logs/', '/poseidon/stor/tmp/']),
      MUSKIE_MAX_UTILIZATION_PCT: 90,
      REBALANCER_LOG_LEVEL: 'info',
      SNAPLINK_CLEANUP_REQUIRED: true,
      REBALANCER_MAX_TASKS_PER_ASSIGNMENT: 200,
      REBALANCER_MAX_METADATA_UPDATE_THREADS: 20,
      REBALANCER_MAX_METADATA_READ_THREADS: 4,
      REBALANCER_MAX_SHARKS: 8,
      REBALANCER_USE_STATIC_MD_UPDATE_THREADS: true,
      REBALANCER_STATIC_QUEUE_DEPTH: 30,
      REBALANCER_MAX_ASSIGNMENT_AGE: 600,
      REBALANCER_USE_BATCHED_UPDATES: true,
      REBALANCER_MD_READ_CHUNK_SIZE: 500,
      MDAPI_CONNECTION_TIMEOUT_MS: 2000,
      REBALANCER_DATABASE_URL:
        'postgres://rebalancer:p&ss@db.example.com:5432/jobs?sslmode=require',
      REBALANCER_AGENT_PORT: 7879,
      REBALANCER_AGENT_AUTH_TOKEN: TOKEN,
      REBALANCER_API_TOKEN: 'api-token-0123456789abcdef',
    });
    assert.equal(c.direct_db, true);
    assert.deepEqual(c.options.exclude_key_prefixes, ['/stor/logs/', '/poseidon/stor/tmp/']);
    assert.equal(c.max_fill_percentage, 90);
    assert.equal(c.log_level, 'info');
    assert.equal(c.snaplink_cleanup_required, true);
    assert.deepEqual(
      [c.options.max_tasks_per_assignment, c.options.max_metadata_update_threads],
      [200, 20],
    );
    assert.deepEqual([c.options.max_md_read_threads, c.options.max_sharks], [4, 8]);
    assert.equal(c.options.use_static_md_update_threads, true);
    assert.equal(c.options.static_queue_depth, 30);
    assert.equal(c.options.max_assignment_age, 600);
    assert.equal(c.options.use_batched_updates, true);
    assert.equal(c.options.md_read_chunk_size, 500);
    assert.equal(c.mdapi.connection_timeout_ms, 2000);
    assert.equal(
      c.database_url,
      'postgres://rebalancer:p&ss@db.example.com:5432/jobs?sslmode=require',
    );
    assert.equal(c.agent_port, 7879, 'the agents’ port, from the variable that sets it');
    assert.equal(c.agent_auth_token, TOKEN);
    assert.equal(c.api_token, 'api-token-0123456789abcdef');
  });

  test('manager: direct_db off (boolean or text), exclusions disabled with ["none"]', async () => {
    for (const off of [false, 'false']) {
      assert.equal(
        (await renderManager({ ...REGION, REBALANCER_DIRECT_DB: off })).direct_db,
        false,
      );
    }
    assert.equal(
      (await renderManager({ ...REGION, REBALANCER_DIRECT_DB: 'true' })).direct_db,
      true,
    );
    const none = await renderManager({
      ...REGION,
      REBALANCER_EXCLUDE_KEY_PREFIXES: sapiList('value', ['none']),
    });
    assert.deepEqual(effectiveExcludePrefixes(none.options), []);
    // An empty list is falsy to mustache: the defaults, as L's operator guide says.
    const empty = await renderManager({ ...REGION, REBALANCER_EXCLUDE_KEY_PREFIXES: [] });
    assert.equal(effectiveExcludePrefixes(empty.options).length, 3);
  });

  test('manager: one index shard and no buckets shards (a Manta without buckets)', async () => {
    const c = await renderManager({
      DOMAIN_NAME: DOMAIN,
      INDEX_MORAY_SHARDS: sapiList('host', [`1.moray.${DOMAIN}`]),
    });
    assert.deepEqual(c.shards, [{ host: `1.moray.${DOMAIN}`, shard: 1 }]);
    assert.deepEqual(c.mdapi.shards, []);
    assert.equal(c.datacenter, undefined);
  });

  test('agent, region defaults: L’s values, the domain and the metrics labels', async () => {
    const c = await renderAgent(REGION);
    assert.deepEqual(
      [c.host, c.port, c.workers, c.workersPerAssignment, c.downloadTimeoutSecs],
      ['0.0.0.0', 7878, 4, 4, 120],
    );
    assert.equal(c.domainName, DOMAIN);
    assert.equal(c.authToken, undefined);
    assert.equal(c.maxBytesPerSecond, 0);
    assert.deepEqual(c.metrics, {
      enabled: true,
      host: '0.0.0.0',
      port: 8878,
      datacenter: 'us-east-1',
      service: `stor.${DOMAIN}`,
      server: '0c7c9c4e-0000-4000-8000-000000000001',
    });
  });

  test('agent, every variable set', async () => {
    const c = await renderAgent({
      ...REGION,
      REBALANCER_AGENT_PORT: 7879,
      REBALANCER_AGENT_WORKERS: 8,
      REBALANCER_AGENT_WORKERS_PER_ASSIGNMENT: 2,
      REBALANCER_AGENT_DOWNLOAD_TIMEOUT_SECS: 300,
      REBALANCER_AGENT_AUTH_TOKEN: TOKEN,
      REBALANCER_AGENT_MAX_BYTES_PER_SECOND: 10_485_760,
      REBALANCER_AGENT_METRICS_PORT: 9878,
    });
    assert.deepEqual(
      [c.port, c.workers, c.workersPerAssignment, c.maxDownloads, c.downloadTimeoutSecs],
      [7879, 8, 2, 16, 300],
    );
    assert.equal(c.authToken, TOKEN);
    assert.equal(c.maxBytesPerSecond, 10_485_760);
    assert.equal(c.metrics.port, 9878);
  });
});
