/**
 * Moray mode reads windows ahead (`windowsInFlight`) while handing the current one over: the
 * events still come in window order, checkpoints only after their window, never more windows
 * open than allowed; and the quoted pre-filter does not take `17.stor…` for `7.stor…`.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type DiscoveryEvent,
  discoverObjects,
  interpretRow,
  type MoraySqlClient,
} from '../../src/discovery/index.ts';

const SHARK = '7.stor.test.example.com';

function value(i: number, sharks: string[]): string {
  const oid = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
  return JSON.stringify({
    dirname: '/acct/stor',
    key: `/acct/stor/o${i}`,
    headers: {},
    mtime: 1,
    name: `o${i}`,
    creator: 'acct',
    owner: 'acct',
    roles: [],
    type: 'object',
    contentLength: 1,
    contentMD5: '1B2M2Y8AsgTpgAEY7/rnxA==',
    contentType: 'text/plain',
    etag: oid,
    objectId: oid,
    sharks: sharks.map((id) => ({ datacenter: 'dc1', manta_storage_id: id })),
    vnode: 1,
  });
}

/**
 * 60 rows; every other one on SHARK. Window replies finish in reverse order of request (the
 * later a window was asked for, the sooner it answers), to show that order is restored.
 */
function reorderingMoray(
  rowDelayMs: (from: number) => number = () => 0,
): MoraySqlClient & { open: number; maxOpen: number } {
  const client = {
    open: 0,
    maxOpen: 0,
    async *sql(statement: string) {
      if (statement.startsWith('SELECT MAX(_id)')) {
        yield { max: '60' };
        return;
      }
      if (statement.startsWith('SELECT MAX(_idx)')) throw new Error('column "_idx" does not exist');
      const m = /_id >= (\d+) AND _id <= (\d+)/.exec(statement);
      const from = Number(m?.[1]);
      const to = Number(m?.[2]);
      client.open++;
      client.maxOpen = Math.max(client.maxOpen, client.open);
      try {
        await new Promise((resolve) => setTimeout(resolve, Math.max(1, 40 - from / 2)));
        for (let i = Math.max(1, from); i <= to; i++) {
          const delay = rowDelayMs(from);
          if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
          const sharks =
            i % 2 === 0 ? ['1.stor.test.example.com', SHARK] : ['17.stor.test.example.com'];
          yield {
            _id: String(i),
            _key: `/acct/stor/o${i}`,
            _value: value(i, sharks),
            _etag: 'ABCD0123',
          };
        }
      } finally {
        client.open--;
      }
    },
  };
  return client;
}

/** Every event of a Moray-mode discovery of shard 1 through `client`. */
async function scanAll(
  client: MoraySqlClient,
  options: { chunkSize: number; windowsInFlight?: number },
): Promise<DiscoveryEvent[]> {
  const events: DiscoveryEvent[] = [];
  for await (const e of discoverObjects({
    shark: SHARK,
    shards: [{ shard: 1, mode: 'moray', client }],
    ...options,
  })) {
    events.push(e);
  }
  return events;
}

describe('moray mode window pipelining', () => {
  for (const windowsInFlight of [1, 3]) {
    test(`windowsInFlight ${windowsInFlight}: in order, bounded, complete`, async () => {
      const client = reorderingMoray();
      const events = await scanAll(client, { chunkSize: 10, windowsInFlight });
      assert.ok(client.maxOpen <= windowsInFlight, `${client.maxOpen} windows open at once`);
      if (windowsInFlight > 1) assert.ok(client.maxOpen > 1, 'windows were read ahead');
      const ids = events.filter((e) => e.kind === 'object').map((e) => Number(e.rowId));
      assert.deepEqual(
        ids,
        Array.from({ length: 30 }, (_, i) => 2 * (i + 1)),
      );
      // Every checkpoint comes after all the objects it covers, and before any it does not.
      let seen = 0;
      for (const e of events) {
        if (e.kind === 'object') seen = Number(e.rowId);
        else if (e.kind === 'checkpoint' && e.column === '_id') {
          assert.ok(seen <= Number(e.through), `object ${seen} before checkpoint ${e.through}`);
        }
      }
      const checkpoints = events.filter((e) => e.kind === 'checkpoint' && e.column === '_id');
      assert.deepEqual(
        checkpoints.map((c) => (c.kind === 'checkpoint' ? c.through : '')),
        // The first window spans a sixteenth of the chunk (at least 1 id), each next one twice
        // the last, up to the chunk.
        ['0', '2', '6', '14', '24', '34', '44', '54', '60'],
      );
    });
  }

  test('the first windows grow from a sixteenth of the chunk to the chunk', async () => {
    const events = await scanAll(reorderingMoray(), { chunkSize: 32 });
    const through = events.flatMap((e) =>
      e.kind === 'checkpoint' && e.column === '_id' ? [e.through] : [],
    );
    // Spans 2, 4, 8, 16, then 32 until the last id (60).
    assert.deepEqual(through, ['1', '5', '13', '29', '60']);
    assert.equal(events.filter((e) => e.kind === 'object').length, 30);
  });

  test('stopping early closes the windows read ahead', async () => {
    // Windows after the first would take 2 s each if read to the end.
    const client = reorderingMoray((from) => (from === 0 ? 0 : 200));
    for await (const e of discoverObjects({
      shark: SHARK,
      shards: [{ shard: 1, mode: 'moray', client }],
      chunkSize: 10,
      windowsInFlight: 3,
    })) {
      if (e.kind === 'object') break;
    }
    for (let i = 0; i < 100 && client.open > 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(client.open, 0, 'windows read ahead were left reading');
  });

  test('windowsInFlight must be a positive integer', () => {
    assert.throws(
      () =>
        discoverObjects({
          shark: SHARK,
          shards: [{ shard: 1, mode: 'moray', client: reorderingMoray() }],
          windowsInFlight: 0,
        }),
      RangeError,
    );
  });
});

describe('the pre-filter', () => {
  const ctx = {
    shard: 1,
    column: '_id' as const,
    shark: SHARK,
    quotedShark: `"${SHARK}"`,
    exclude: () => undefined,
  };
  const row = (sharks: string[]) => ({
    _id: '5',
    _key: '/acct/stor/o5',
    _value: value(5, sharks),
    _etag: 'ABCD0123',
  });

  test('a shark whose name contains the target is not the target', () => {
    assert.equal(
      interpretRow(row(['17.stor.test.example.com', '107.stor.test.example.com']), ctx),
      undefined,
    );
    assert.equal(interpretRow(row(['17.stor.test.example.com', SHARK]), ctx)?.kind, 'object');
  });

  test('without the pre-filter the outcome is the same', () => {
    const { quotedShark: _, ...plain } = ctx;
    assert.equal(interpretRow(row(['17.stor.test.example.com']), plain), undefined);
    assert.equal(interpretRow(row([SHARK]), plain)?.kind, 'object');
  });

  test('records written with spaces are still found', () => {
    const r = row([SHARK]);
    r._value = JSON.stringify(JSON.parse(r._value), null, 2);
    assert.equal(interpretRow(r, ctx)?.kind, 'object');
  });
});
