/**
 * Discovery against the sandbox Moray shards (src/sandbox/moray): objects written with real
 * putObject RPCs into Moray-layout tables, then found by both modes — moray `sql` over Fast,
 * and direct-db on the same PostgreSQL — with the etags Moray computed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  type DiscoveryEvent,
  discoverObjects,
  type ShardSource,
} from '../../src/discovery/index.ts';
import { createLogger } from '../../src/log/index.ts';
import { MorayClient } from '../../src/moray/index.ts';
import {
  createMantaBuckets,
  type MorayShard,
  startMorayShard,
} from '../../src/sandbox/moray/index.ts';
import { directoryRecord, objectRecord } from '../../src/sandbox/seed/record.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

const log = createLogger({ name: 'test', level: 'silent' });
const OWNER = '61368287-aa5b-6c0f-f3a9-931a228215e4';
const SHARK = { datacenter: 'dc2', manta_storage_id: '3.stor.sandbox.example.com' };
const OTHERS = [
  { datacenter: 'dc1', manta_storage_id: '1.stor.sandbox.example.com' },
  { datacenter: 'dc1', manta_storage_id: '2.stor.sandbox.example.com' },
  { datacenter: 'dc3', manta_storage_id: '33.stor.sandbox.example.com' },
];

interface Shard {
  number: number;
  tdb: TestDatabase;
  moray: MorayShard;
  client: MorayClient;
  /** key → etag of the objects on SHARK. */
  expected: Map<string, string>;
}

describe('discovery against sandbox moray shards', () => {
  const shards: Shard[] = [];
  before(async () => {
    for (const number of [1, 2]) {
      const tdb = await createTestDatabase();
      await createMantaBuckets(tdb.db);
      const moray = await startMorayShard({ db: tdb.db, log, name: `${number}.moray.sandbox` });
      const client = new MorayClient({ host: moray.host, port: moray.port, log });
      const expected = new Map<string, string>();
      for (let i = 0; i < 30; i++) {
        const onShark = i % 3 !== 0;
        const position = i % 3;
        const sharks = [OTHERS[i % 3], OTHERS[(i + 1) % 3]].filter((s) => s !== undefined);
        if (onShark) sharks.splice(position, 0, SHARK);
        const value = objectRecord({
          owner: OWNER,
          dirname: `/${OWNER}/stor/s${number}`,
          name: `o${i}`,
          objectId: `2e08b069-d132-4c25-920c-${String(number * 1000 + i).padStart(12, '0')}`,
          contentLength: 100 + i,
          contentMD5: 'L9NrIZXTY37AYVZN9+gZ7w==',
          sharks,
          mtime: 1_700_000_000_000 + i,
        });
        const { etag } = await client.putObject('manta', value.key, value);
        if (onShark) expected.set(value.key, etag);
        if (i % 10 === 0) {
          const dir = directoryRecord(OWNER, `/${OWNER}/stor/s${number}/d${i}`, 1);
          await client.putObject('manta', dir.key, dir);
        }
      }
      shards.push({ number, tdb, moray, client, expected });
    }
  });
  after(async () => {
    for (const s of shards) {
      await s.client.close();
      await s.moray.close();
      await s.tdb.drop();
    }
  });

  const found = (events: DiscoveryEvent[]) =>
    events.flatMap((e) => (e.kind === 'object' ? [`${e.shard} ${e.key} ${e.etag}`] : [])).sort();
  const expected = () =>
    shards.flatMap((s) => [...s.expected].map(([k, etag]) => `${s.number} ${k} ${etag}`)).sort();

  for (const mode of ['moray', 'direct-db'] as const) {
    test(`${mode}: finds exactly the objects on the shark, with Moray's etags`, async () => {
      const sources: ShardSource[] = shards.map((s) =>
        mode === 'moray'
          ? { shard: s.number, mode, client: s.client }
          : { shard: s.number, mode, db: s.tdb.db },
      );
      const events: DiscoveryEvent[] = [];
      for await (const e of discoverObjects({
        shark: SHARK.manta_storage_id,
        shards: sources,
        chunkSize: 4,
        batchSize: 4,
      })) {
        events.push(e);
      }
      assert.equal(expected().length, 40);
      assert.deepEqual(found(events), expected());
      assert.equal(events.filter((e) => e.kind === 'malformed').length, 0);
      for (const e of events) {
        if (e.kind === 'object') {
          assert.equal(typeof e.value.vnode, 'number', 'the record is kept whole');
          assert.deepEqual(Object.keys(e.value).slice(0, 3), ['dirname', 'key', 'headers']);
        }
      }
    });
  }
});
