import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/manager/config.ts';
import type { SandboxBucketsShard } from '../../src/sandbox/description.ts';
import {
  bucketsShardVnodes,
  SandboxLayoutError,
  validateLayout,
} from '../../src/sandbox/layout.ts';
import { bucketsManagerAliases, bucketsManagerConfig } from '../../src/sandbox/up-buckets.ts';

const shards: SandboxBucketsShard[] = [
  { name: '1.buckets-mdapi.sandbox.test', host: '127.0.0.1', port: 4101, vnodes: [0, 2] },
  { name: '2.buckets-mdapi.sandbox.test', host: '127.0.0.1', port: 4102, vnodes: [1, 3] },
];

test('the manager config names the buckets shards and reaches them through aliases', () => {
  const extra = bucketsManagerConfig(shards);
  assert.deepEqual(extra, {
    mdapi: {
      shards: [{ host: '1.buckets-mdapi.sandbox.test' }, { host: '2.buckets-mdapi.sandbox.test' }],
      vnode_count: 4,
    },
  });
  const aliases = bucketsManagerAliases(shards);
  assert.deepEqual(aliases, {
    '1.buckets-mdapi.sandbox.test:2030': '127.0.0.1:4101',
    '2.buckets-mdapi.sandbox.test:2030': '127.0.0.1:4102',
  });
  // The manager accepts what the sandbox writes.
  const config = parseConfig({
    domain_name: 'sandbox.test',
    shards: [{ host: '1.moray.sandbox.test' }],
    host_aliases: aliases,
    ...extra,
  });
  assert.deepEqual(
    config.mdapi.shards.map((s) => s.host),
    shards.map((s) => s.name),
  );
  assert.equal(config.mdapi.vnode_count, 4);
});

test('shards on a real server add their database URLs by shard number', () => {
  const onServer = shards.map((s, i) => ({ ...s, database_url: `postgres://h/db${i + 1}` }));
  assert.deepEqual(bucketsManagerConfig(onServer).buckets_direct_db_urls, {
    '1': 'postgres://h/db1',
    '2': 'postgres://h/db2',
  });
  assert.deepEqual(bucketsManagerConfig([]), {});
});

test('vnodes are dealt round-robin; a layout needs a vnode per buckets shard', () => {
  assert.deepEqual(bucketsShardVnodes(1, 3, 8), [0, 3, 6]);
  assert.deepEqual(bucketsShardVnodes(3, 3, 8), [2, 5]);
  const layout = {
    domain: 'a.test',
    shards: 1,
    sharks: 1,
    datacenters: 1,
    sharkCapacityBytes: 1 << 20,
  };
  assert.throws(
    () => validateLayout({ ...layout, bucketsShards: 9, bucketsVnodes: 8 }),
    SandboxLayoutError,
  );
  assert.doesNotThrow(() => validateLayout({ ...layout, bucketsShards: 0 }));
});
