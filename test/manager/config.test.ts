import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  ConfigError,
  type ConfigWarning,
  directDbUrl,
  effectiveExcludePrefixes,
  loadConfig,
  parseConfig,
  shardRange,
} from '../../src/manager/config.ts';

const MANAGER = fileURLToPath(new URL('../../bin/rebalancer-manager.js', import.meta.url));
const base = { domain_name: 'east.example.com', shards: [{ host: '2.moray.east.example.com' }] };

describe('manager config', () => {
  test('L defaults and our additions', () => {
    const c = parseConfig(base);
    assert.equal(c.listen_port, 80);
    assert.equal(c.log_level, 'debug');
    assert.equal(c.max_fill_percentage, 100);
    assert.equal(c.direct_db, false);
    assert.equal(c.snaplink_cleanup_required, false);
    assert.equal(c.options.max_tasks_per_assignment, 50);
    assert.equal(c.options.max_metadata_update_threads, 10);
    assert.equal(c.options.max_assignment_age, 3600);
    assert.equal(c.options.md_read_chunk_size, 10_000);
    assert.deepEqual(c.options.exclude_key_prefixes, [
      '/stor/logs/',
      '/stor/usage/',
      '/stor/manatee_backups/',
    ]);
    assert.equal(c.storinfo_url, 'http://storinfo.east.example.com');
    assert.equal(c.agent_port, 7878);
    assert.equal(c.metrics_port, 8878);
    assert.equal(c.moray_operation_timeout_ms, 60_000);
    assert.equal(c.database_url, undefined);
    assert.equal(c.agent_auth_token, undefined);
    assert.equal(c.api_token, undefined);
    assert.equal(c.api_token_read, undefined);
    assert.equal(c.datacenter, undefined);
    assert.deepEqual(c.options.blocklist, []);
    assert.deepEqual(c.options.blocked_datacenters, []);
    assert.throws(
      () => parseConfig({ ...base, moray_operation_timeout_ms: 0 }),
      (e: unknown) => e instanceof ConfigError && e.key === 'moray_operation_timeout_ms',
    );
  });

  test('direct_db_urls name each shard clone; others get the pgclone name', () => {
    const c = parseConfig({
      ...base,
      direct_db: true,
      direct_db_urls: { 2: 'postgres://reader@10.0.0.2:5432/moray' },
    });
    assert.equal(directDbUrl(c, 2), 'postgres://reader@10.0.0.2:5432/moray');
    assert.equal(
      directDbUrl(c, 1),
      'postgres://postgres@1.rebalancer-postgres.east.example.com:5432/moray',
    );
    for (const bad of [{ x: 'postgres://h/db' }, { 1: 'http://h' }, 'postgres://h/db']) {
      assert.throws(
        () => parseConfig({ ...base, direct_db_urls: bad }),
        (e: unknown) => e instanceof ConfigError && e.key.startsWith('direct_db_urls'),
      );
    }
  });

  test('host_aliases map Manta names to the addresses serving them', () => {
    const c = parseConfig({
      ...base,
      host_aliases: { '2.moray.east.example.com:2020': '127.0.0.1:40001' },
    });
    assert.equal(c.host_aliases.get('2.moray.east.example.com:2020'), '127.0.0.1:40001');
    assert.equal(parseConfig(base).host_aliases.size, 0);
    assert.throws(
      () => parseConfig({ ...base, host_aliases: { '2.moray.east.example.com': 'x' } }),
      (e: unknown) => e instanceof ConfigError && e.key === 'host_aliases',
    );
  });

  test('shards are sorted by number; min and max define the range', () => {
    const c = parseConfig({
      ...base,
      shards: [{ host: '10.moray.x' }, { host: '2.moray.x' }, { host: '3.moray.x' }],
    });
    assert.deepEqual(
      c.shards.map((s) => s.shard),
      [2, 3, 10],
    );
    assert.deepEqual(shardRange(c), { min: 2, max: 10 });
    assert.throws(
      () => parseConfig({ ...base, shards: [{ host: '2.moray.x' }, { host: '2.moray.y' }] }),
      (e: unknown) => e instanceof ConfigError && e.key === 'shards' && /twice/.test(e.message),
    );
  });

  // L's min_max_shards: template-rendered configs (INDEX_MORAY_SHARDS in SAPI's order).
  test('min_max_shards', () => {
    const rendered = (numbers: number[]) =>
      parseConfig({
        domain_name: 'west.example.com',
        shards: numbers.map((n) => ({ host: `${n}.moray.west.example.com` })),
      });
    assert.deepEqual(shardRange(rendered([3])), { min: 3, max: 3 });
    assert.deepEqual(shardRange(rendered([99, 1000, 200, 2, 100])), { min: 2, max: 1000 });
  });

  test('options are read; unknown keys ignored; exclude ["none"] disables', () => {
    const c = parseConfig({
      ...base,
      misspelt_key: true,
      log_level: 'WARNING',
      options: {
        max_tasks_per_assignment: 200,
        use_batched_updates: true,
        exclude_key_prefixes: ['none'],
      },
    });
    assert.equal(c.options.max_tasks_per_assignment, 200);
    assert.equal(c.options.use_batched_updates, true);
    assert.equal(c.log_level, 'warn');
    assert.deepEqual(effectiveExcludePrefixes(c.options), []);
  });

  test('invalid values are errors naming the key', () => {
    const cases: [unknown, string][] = [
      [{ shards: base.shards }, 'domain_name'],
      [{ domain_name: 'x' }, 'shards'],
      [{ ...base, shards: [] }, 'shards'],
      [{ ...base, shards: [{ host: 'moray.x' }] }, 'shards[0].host'],
      [{ ...base, listen_port: 70000 }, 'listen_port'],
      [{ ...base, max_fill_percentage: 101 }, 'max_fill_percentage'],
      [{ ...base, log_level: 'loud' }, 'log_level'],
      [{ ...base, direct_db: 'yes' }, 'direct_db'],
      [{ ...base, options: { max_sharks: 0 } }, 'options.max_sharks'],
      [{ ...base, options: { exclude_key_prefixes: [1] } }, 'options.exclude_key_prefixes'],
      [{ ...base, mdapi: { shards: [{}] } }, 'mdapi.shards[0].host'],
      [{ ...base, agent_auth_token: 'short' }, 'agent_auth_token'],
      [{ ...base, agent_auth_token: `${'x'.repeat(16)}\n` }, 'agent_auth_token'],
      [{ ...base, agent_auth_token: 16 }, 'agent_auth_token'],
      [{ ...base, api_token: 'short' }, 'api_token'],
      [{ ...base, api_token: `${'x'.repeat(16)}\u0000` }, 'api_token'],
      [{ ...base, api_token: ['x'.repeat(16)] }, 'api_token'],
      [{ ...base, api_token: 'x'.repeat(16), api_token_read: 'short' }, 'api_token_read'],
      [
        { ...base, api_token: 'x'.repeat(16), api_token_read: `${'y'.repeat(16)}\u007f` },
        'api_token_read',
      ],
      [{ ...base, api_token_read: 'y'.repeat(16) }, 'api_token_read'],
      [{ ...base, datacenter: 1 }, 'datacenter'],
      [{ ...base, options: { blocklist: 'x' } }, 'options.blocklist'],
      [{ ...base, options: { blocklist: ['1.stor.x', 'not a shark'] } }, 'options.blocklist[1]'],
      [{ ...base, options: { blocked_datacenters: [''] } }, 'options.blocked_datacenters[0]'],
      [
        { ...base, metadata_updates_per_second_per_shard: 0 },
        'metadata_updates_per_second_per_shard',
      ],
      [
        { ...base, metadata_updates_per_second_per_shard: 1.5 },
        'metadata_updates_per_second_per_shard',
      ],
      [{ ...base, stall_after_seconds: 0 }, 'stall_after_seconds'],
      [{ ...base, stall_after_seconds: null }, 'stall_after_seconds'],
      [[], '(root)'],
    ];
    for (const [raw, key] of cases) {
      assert.throws(
        () => parseConfig(raw),
        (err) => err instanceof ConfigError && err.key === key,
        `expected an error on ${key}`,
      );
    }
  });

  test('agent_auth_token, datacenter and the blocklists are read', () => {
    const c = parseConfig({
      ...base,
      agent_auth_token: 'a-token-of-16-chars',
      datacenter: 'east-1',
      options: {
        blocklist: ['3.stor.east.example.com', '127.0.0.1:8080'],
        blocked_datacenters: ['dc9'],
      },
    });
    assert.equal(c.agent_auth_token, 'a-token-of-16-chars');
    assert.equal(c.datacenter, 'east-1');
    assert.deepEqual(c.options.blocklist, ['3.stor.east.example.com', '127.0.0.1:8080']);
    assert.deepEqual(c.options.blocked_datacenters, ['dc9']);
  });

  test('api_token and api_token_read are read; a read token needs api_token', () => {
    const c = parseConfig({
      ...base,
      api_token: 'the-api-token-0123',
      api_token_read: 'the-read-token-0123',
    });
    assert.equal(c.api_token, 'the-api-token-0123');
    assert.equal(c.api_token_read, 'the-read-token-0123');
    assert.equal(
      parseConfig({ ...base, api_token: 'the-api-token-0123' }).api_token_read,
      undefined,
    );
    assert.throws(
      () => parseConfig({ ...base, api_token_read: 'the-read-token-0123' }),
      (e: unknown) =>
        e instanceof ConfigError && e.key === 'api_token_read' && /needs api_token/.test(e.message),
    );
  });

  test('the fleet-wide metadata budget per shard and the stall time (issue 15)', () => {
    const defaults = parseConfig(base);
    assert.equal(defaults.metadata_updates_per_second_per_shard, null, 'unlimited by default');
    assert.equal(defaults.stall_after_seconds, 300);
    const c = parseConfig({
      ...base,
      metadata_updates_per_second_per_shard: 160,
      stall_after_seconds: 60,
    });
    assert.equal(c.metadata_updates_per_second_per_shard, 160);
    assert.equal(c.stall_after_seconds, 60);
    const unlimited = parseConfig({ ...base, metadata_updates_per_second_per_shard: null });
    assert.equal(unlimited.metadata_updates_per_second_per_shard, null);
  });

  test('max_fill_precentage, L’s template typo, is read as max_fill_percentage with a warning', async () => {
    const read = (extra: Record<string, unknown>) => {
      const warnings: ConfigWarning[] = [];
      const c = parseConfig({ ...base, ...extra }, (w) => warnings.push(w));
      return { fill: c.max_fill_percentage, warnings };
    };
    assert.deepEqual(read({}), { fill: 100, warnings: [] });
    assert.deepEqual(read({ max_fill_percentage: 80 }), { fill: 80, warnings: [] });

    const alias = read({ max_fill_precentage: 90 });
    assert.equal(alias.fill, 90);
    assert.equal(alias.warnings.length, 1, 'once per load');
    assert.equal(alias.warnings[0]?.key, 'max_fill_precentage');
    assert.match(alias.warnings[0]?.message ?? '', /max_fill_precentage.*max_fill_percentage/);

    const both = read({ max_fill_precentage: 90, max_fill_percentage: 70 });
    assert.equal(both.fill, 70);
    assert.equal(both.warnings.length, 1);
    assert.match(
      both.warnings[0]?.message ?? '',
      /ignored: max_fill_percentage is also set and wins/,
    );

    assert.throws(
      () => parseConfig({ ...base, max_fill_precentage: 150 }),
      (e: unknown) => e instanceof ConfigError && e.key === 'max_fill_precentage',
    );

    // A file rendered by L's template, through the loader main.ts uses.
    const dir = await mkdtemp(join(tmpdir(), 'manager-config-'));
    try {
      const path = join(dir, 'config.json');
      await writeFile(path, JSON.stringify({ ...base, max_fill_precentage: 85 }));
      const warnings: ConfigWarning[] = [];
      assert.equal((await loadConfig(path, (w) => warnings.push(w))).max_fill_percentage, 85);
      assert.equal(warnings.length, 1);

      // The manager logs it once it has a logger (its level comes from the config).
      const listen = { listen_address: '127.0.0.1', listen_port: 0, metrics_port: 0 };
      await writeFile(path, JSON.stringify({ ...base, ...listen, max_fill_precentage: 85 }));
      const child = spawn(process.execPath, [MANAGER, '--config', path], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      try {
        const record = await new Promise<Record<string, unknown>>((resolve, reject) => {
          createInterface({ input: child.stdout }).on('line', (line) => {
            const r = JSON.parse(line) as Record<string, unknown>;
            if (r.key === 'max_fill_precentage') resolve(r);
          });
          child.once('exit', (code) => reject(new Error(`the manager exited (${code})`)));
        });
        assert.equal(record.level, 40);
        assert.match(String(record.msg), /max_fill_precentage.*max_fill_percentage/);
      } finally {
        child.kill('SIGKILL');
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
