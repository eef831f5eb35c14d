/**
 * The SIGUSR1 reload's rules (src/manager/reload.ts): every config key is classified, and a
 * reload takes the new values of `live` and `new-jobs` keys while refusing `restart` keys.
 * test/manager/e2e/reload.test.ts sends the real signal to a real manager.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfig } from '../../src/manager/config.ts';
import { CONFIG_KEYS, RELOAD_CLASSES, reloadConfig } from '../../src/manager/reload.ts';

const base = {
  domain_name: 'east.example.com',
  shards: [{ host: '1.moray.east.example.com' }],
  database_url: 'postgres://rebalancer:secret@db/rebalancer',
};

/** Every key a parsed config has, dotted as RELOAD_CLASSES names them. */
function parsedKeys(): string[] {
  const c = parseConfig(base) as unknown as Record<string, unknown>;
  return Object.entries(c).flatMap(([k, v]) =>
    k === 'options' || k === 'mdapi'
      ? Object.keys(v as Record<string, unknown>).map((sub) => `${k}.${sub}`)
      : [k],
  );
}

describe('config reload', () => {
  test('every key of ManagerConfig is classified live, new-jobs or restart', () => {
    assert.deepEqual([...CONFIG_KEYS].sort(), parsedKeys().sort());
    for (const key of CONFIG_KEYS) {
      assert.ok(['live', 'new-jobs', 'restart'].includes(RELOAD_CLASSES[key]), key);
    }
  });

  test('live and new-jobs keys take the new value; restart keys keep the running one', () => {
    const running = parseConfig(base);
    const next = parseConfig({
      ...base,
      listen_port: 8080,
      database_url: 'postgres://rebalancer:other@db2/rebalancer',
      host_aliases: { '1.moray.east.example.com:2020': '127.0.0.1:1' },
      max_fill_percentage: 80,
      log_level: 'warn',
      agent_auth_token: 'a-token-of-16-chars',
      api_token: 'the-api-token-0123',
      api_token_read: 'the-read-token-0123',
      metadata_updates_per_second_per_shard: 160,
      stall_after_seconds: 60,
      options: {
        max_sharks: 2,
        blocklist: ['3.stor.east.example.com'],
        blocked_datacenters: ['dc2'],
        max_tasks_per_assignment: 7,
        exclude_key_prefixes: ['none'],
      },
      mdapi: { shards: [{ host: '1.buckets-mdapi.east.example.com' }] },
    });
    const out = reloadConfig(running, next);
    assert.deepEqual(out.live.sort(), [
      'agent_auth_token',
      'api_token',
      'api_token_read',
      'log_level',
      'max_fill_percentage',
      'metadata_updates_per_second_per_shard',
      'options.blocked_datacenters',
      'options.blocklist',
      'options.max_sharks',
      'stall_after_seconds',
    ]);
    assert.deepEqual(out.newJobs.sort(), [
      'options.exclude_key_prefixes',
      'options.max_tasks_per_assignment',
    ]);
    assert.deepEqual(out.refused.map((r) => r.key).sort(), [
      'database_url',
      'host_aliases',
      'listen_port',
      'mdapi.shards',
    ]);
    // Refused: the running values stay.
    assert.equal(out.config.listen_port, 80);
    assert.equal(out.config.database_url, base.database_url);
    assert.equal(out.config.host_aliases.size, 0);
    assert.deepEqual(out.config.mdapi.shards, []);
    // Taken: the new ones.
    assert.equal(out.config.max_fill_percentage, 80);
    assert.deepEqual(out.config.options.blocklist, ['3.stor.east.example.com']);
    assert.equal(out.config.options.max_tasks_per_assignment, 7);
    assert.equal(out.config.agent_auth_token, 'a-token-of-16-chars');
    assert.equal(out.config.api_token, 'the-api-token-0123');
    assert.equal(out.config.api_token_read, 'the-read-token-0123');
    assert.equal(out.config.metadata_updates_per_second_per_shard, 160);
    assert.equal(out.config.stall_after_seconds, 60);
    // What is logged of a refused key never includes a credential.
    const refusedUrl = out.refused.find((r) => r.key === 'database_url');
    assert.deepEqual(refusedUrl, { key: 'database_url' });
    assert.deepEqual(
      out.refused.find((r) => r.key === 'listen_port'),
      {
        key: 'listen_port',
        current: 80,
        requested: 8080,
      },
    );
    // Neither input was modified.
    assert.equal(next.listen_port, 8080);
    assert.equal(running.max_fill_percentage, 100);
  });

  test('api_token and api_token_read reload live: a rotated or dropped token applies at once', () => {
    const running = parseConfig({ ...base, api_token: 'the-old-api-token-0' });
    const out = reloadConfig(running, parseConfig({ ...base, api_token: 'the-new-api-token-0' }));
    assert.deepEqual(out.live, ['api_token']);
    assert.equal(out.config.api_token, 'the-new-api-token-0');
    assert.equal(RELOAD_CLASSES.api_token, 'live');
    assert.equal(RELOAD_CLASSES.api_token_read, 'live');
    // Dropping the token opens the API again at the next request.
    const dropped = reloadConfig(running, parseConfig(base));
    assert.deepEqual(dropped.live, ['api_token']);
    assert.equal(dropped.config.api_token, undefined);
  });

  test('an unchanged file changes nothing', () => {
    const out = reloadConfig(parseConfig(base), parseConfig(base));
    assert.deepEqual([out.live, out.newJobs, out.refused], [[], [], []]);
  });
});
