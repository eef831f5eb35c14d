import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { autovacuumOn } from '../../../src/db/index.ts';
import type { MorayClient } from '../../../src/moray/index.ts';
import { MANTA_BUCKET } from '../../../src/sandbox/moray/manta-buckets.ts';
import type { TestDatabase } from '../../support/database.ts';
import { startShardWithClient } from './helpers.ts';

// Real Moray's Manatee runs autovacuum; where the stand-in's server does not, the stand-in
// vacuums the bucket tables whose rows it has rewritten, as an evacuation rewrites every record.
let moray: Awaited<ReturnType<typeof startShardWithClient>>;
let client: MorayClient;
let tdb: TestDatabase;

before(async () => {
  moray = await startShardWithClient({ vacuumIntervalMs: 20 });
  ({ client, tdb } = moray);
});
after(async () => {
  await moray.close();
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
