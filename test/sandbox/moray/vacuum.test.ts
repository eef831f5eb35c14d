import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { autovacuumOn } from '../../../src/db/index.ts';
import { MorayClient } from '../../../src/moray/index.ts';
import { MANTA_BUCKET } from '../../../src/sandbox/moray/manta-buckets.ts';
import { startMorayShard } from '../../../src/sandbox/moray/shard.ts';
import { createTestDatabase, type TestDatabase } from '../../support/database.ts';
import { silent } from './helpers.ts';

// Real Moray's Manatee runs autovacuum; where the stand-in's server does not, the stand-in
// vacuums the bucket tables whose rows it has rewritten, as an evacuation rewrites every record.
let tdb: TestDatabase;
let shard: Awaited<ReturnType<typeof startMorayShard>>;
let client: MorayClient;

before(async () => {
  tdb = await createTestDatabase();
  shard = await startMorayShard({ db: tdb.db, port: 0, log: silent, vacuumIntervalMs: 20 });
  client = new MorayClient({ host: '127.0.0.1', port: shard.port, connections: 1, log: silent });
  await client.connect();
});
after(async () => {
  await client.close();
  await shard.close();
  await tdb.drop();
});

async function vacuumCount(table: string): Promise<number> {
  const { rows } = await tdb.db.query<{ n: string }>(
    'SELECT pg_stat_get_vacuum_count($1::regclass) AS n',
    [table],
  );
  return Number(rows[0]?.n);
}

test('bucket tables whose records were rewritten are vacuumed; untouched ones are not', async (t) => {
  if (await autovacuumOn(tdb.db)) {
    t.skip('this server runs autovacuum: the stand-in leaves vacuuming to it');
    return;
  }
  const record = (key: string, n: number) => ({ key, owner: 'o', type: 'object', n });
  await client.createBucket('manta', MANTA_BUCKET);
  await client.createBucket('quiet', MANTA_BUCKET);
  await client.putObject('quiet', '/q', record('/q', 0));
  await new Promise((resolve) => setTimeout(resolve, 100));
  const quietBefore = await vacuumCount('quiet');
  for (let n = 0; n < 20; n++) await client.putObject('manta', '/a', record('/a', n));
  for (let i = 0; i < 250 && (await vacuumCount('manta')) === 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.ok((await vacuumCount('manta')) > 0, 'the rewritten table was vacuumed');
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(await vacuumCount('quiet'), quietBefore, 'a table with no rewrite since is left');
});
