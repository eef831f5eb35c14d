import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MorayClient } from '../../../src/moray/index.ts';
import { MANTA_BUCKET } from '../../../src/sandbox/moray/manta-buckets.ts';
import { startMorayShard } from '../../../src/sandbox/moray/shard.ts';
import { createTestDatabase, type TestDatabase } from '../../support/database.ts';
import { silent } from './helpers.ts';

// Writes inside a transaction (batch, updateObjects, deleteMany) must read an uncached bucket
// config through that transaction: on PGlite, whose one connection the transaction holds, a
// read through the pool would wait forever.
let tdb: TestDatabase;
let shard: Awaited<ReturnType<typeof startMorayShard>>;
let client: MorayClient;

before(async () => {
  tdb = await createTestDatabase();
  shard = await startMorayShard({ db: tdb.db, port: 0, log: silent });
  client = new MorayClient({ host: '127.0.0.1', port: shard.port, connections: 1, log: silent });
  await client.connect();
});
after(async () => {
  await client.close();
  await shard.close();
  await tdb.drop();
});

test('the first RPC after createBucket may be a batch, updateObjects or deleteMany', async () => {
  const record = (key: string) => ({ key, owner: 'o', type: 'object', name: key.slice(1) });
  await client.createBucket('manta', MANTA_BUCKET);
  const { etags } = await client.batch(
    [{ bucket: 'manta', key: '/a', value: record('/a'), options: { etag: null } }],
    { timeoutMs: 10_000 },
  );
  assert.equal(etags.length, 1);

  await client.updateBucket('manta', { ...MANTA_BUCKET, options: { version: 3 } });
  const updated = await client.updateObjects('manta', { owner: 'p' }, '(name=a)', {
    timeoutMs: 10_000,
  });
  assert.equal(updated.count, 1);

  await client.updateBucket('manta', { ...MANTA_BUCKET, options: { version: 4 } });
  const deleted = await client.deleteMany('manta', '(owner=p)', { timeoutMs: 10_000 });
  assert.equal(deleted.count, 1);
});
