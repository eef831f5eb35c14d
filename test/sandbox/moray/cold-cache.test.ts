import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { MorayClient } from '../../../src/moray/index.ts';
import { MANTA_BUCKET } from '../../../src/sandbox/moray/manta-buckets.ts';
import { startShardWithClient } from './helpers.ts';

// Writes inside a transaction (batch, updateObjects, deleteMany) must read an uncached bucket
// config through that transaction: on PGlite, whose one connection the transaction holds, a
// read through the pool would wait forever.
let moray: Awaited<ReturnType<typeof startShardWithClient>>;
let client: MorayClient;

before(async () => {
  moray = await startShardWithClient();
  ({ client } = moray);
});
after(async () => {
  await moray.close();
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
