import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_EXCLUDE_KEY_PREFIXES } from '../../../../src/discovery/index.ts';
import {
  CheckpointCursorError,
  DiscoveryObjectSource,
} from '../../../../src/manager/jobs/evacuate/discovery-source.ts';
import type { ObjectSource, SourceEvent } from '../../../../src/manager/jobs/evacuate/types.ts';
import { createMantaTable, type SeededRow, SHARK, seedShard } from '../../../discovery/fixtures.ts';
import { createTestDatabase, type TestDatabase } from '../../../support/database.ts';

const shark = { datacenter: 'dc2', manta_storage_id: SHARK };

async function scan(
  source: ObjectSource,
  resume: { shard: number; cursor: string | null; done: boolean }[],
): Promise<SourceEvent[]> {
  const events: SourceEvent[] = [];
  const signal = new AbortController().signal;
  for await (const e of source.scan({ shark, resume, signal })) events.push(e);
  return events;
}

const keysOf = (events: SourceEvent[]) =>
  events.flatMap((e) => (e.kind === 'object' ? [e.object.key] : [])).sort();

describe('DiscoveryObjectSource checkpoint cursors', () => {
  let tdb: TestDatabase;
  let rows: SeededRow[];
  let source: DiscoveryObjectSource;
  before(async () => {
    tdb = await createTestDatabase();
    // An older migrated table: both id columns are scanned, `_id` first.
    await createMantaTable(tdb.db, { idx: true, intId: true });
    rows = await seedShard(tdb.db, 1, { objects: 40, seed: 11, idxRows: 6 });
    source = new DiscoveryObjectSource(() => [{ shard: 1, mode: 'direct-db', db: tdb.db }], {
      chunkSize: 5,
      excludeKeyPrefixes: DEFAULT_EXCLUDE_KEY_PREFIXES,
    });
  });
  after(() => tdb.drop());

  test('every cursor it writes resumes, including one naming only the finished `_id` column', async () => {
    const all = await scan(source, []);
    const expected = rows
      .filter((r) => r.expect === 'object')
      .map((r) => r.key)
      .sort();
    assert.deepEqual(keysOf(all), expected);
    const cursors = all.flatMap((e) => (e.kind === 'checkpoint' ? [e.checkpoint.cursor] : []));
    const idOnly = cursors.filter((c) => {
      const parsed = JSON.parse(c ?? 'null') as Record<string, { done?: boolean }>;
      return parsed._id?.done === true && parsed._idx === undefined;
    });
    assert.ok(idOnly.length > 0, 'the scan wrote a cursor after `_id` and before any `_idx`');
    // Resuming after `_id` leaves exactly the objects only `_idx` holds.
    const { rows: idxOnly } = await tdb.db.query<{ _key: string }>(
      'SELECT _key FROM manta WHERE _id IS NULL',
    );
    const onlyIdx = expected.filter((k) => idxOnly.some((r) => r._key === k));
    assert.ok(onlyIdx.length > 0, 'the fixture has objects only `_idx` holds');
    const resumed = await scan(source, [{ shard: 1, cursor: idOnly[0] ?? null, done: false }]);
    assert.deepEqual(keysOf(resumed), onlyIdx);
    // Every cursor written reads back; the last one leaves nothing to scan.
    for (const cursor of cursors) await scan(source, [{ shard: 1, cursor, done: false }]);
    const last = await scan(source, [{ shard: 1, cursor: cursors.at(-1) ?? null, done: false }]);
    assert.deepEqual(keysOf(last), []);
  });

  test('a cursor it did not write is refused with checkpoint_cursor_invalid', async () => {
    for (const cursor of ['{"_id":{"through":7}}', '{"_key":{"done":true}}', '[]']) {
      await assert.rejects(
        scan(source, [{ shard: 1, cursor, done: false }]),
        (e: unknown) =>
          e instanceof CheckpointCursorError && e.code === 'checkpoint_cursor_invalid',
        cursor,
      );
    }
  });
});
