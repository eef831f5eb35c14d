import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createLogger } from '../../src/log/index.ts';
import {
  MorayMetadataWriter,
  PickerChooser,
  ShardUnavailableError,
} from '../../src/manager/jobs/evacuate/adapters.ts';
import {
  MetadataEtagMismatchError,
  MetadataObjectNotFoundError,
} from '../../src/manager/jobs/evacuate/types.ts';
import { EtagConflictError, MorayClient, MorayConnectionError } from '../../src/moray/index.ts';
import { createMantaBuckets, startMorayShard } from '../../src/sandbox/moray/index.ts';
import { DestinationPicker, Reservations } from '../../src/storinfo/index.ts';
import { createTestDatabase } from '../support/database.ts';
import { mantaObject } from '../support/manta-record.ts';

const NONE = { never: new Set<string>(), later: new Set<string>() };

const silentLog = createLogger({ name: 'adapters-test', level: 'silent' });

const signal = new AbortController().signal;
const update = {
  shard: 1,
  key: '/a/stor/x',
  etag: 'E1',
  value: mantaObject({ key: '/a/stor/x' }),
  previous: mantaObject({ key: '/a/stor/x' }),
};
const ref = (key: string) => ({ tier: 'moray' as const, shard: 1, key, object: undefined });

function conflict(actual: string): EtagConflictError {
  return new EtagConflictError({
    name: 'EtagConflictError',
    message: 'etag conflict',
    method: 'putObject',
    shard: '127.0.0.1:2020',
    context: { bucket: 'manta', key: update.key, expected: 'E1', actual },
  });
}

function writerThrowing(err: unknown, calls: unknown[][] = []): MorayMetadataWriter {
  const client = {
    async putObject(...args: unknown[]) {
      calls.push(args);
      if (err) throw err;
      return { etag: 'E2' };
    },
  } as unknown as MorayClient;
  return new MorayMetadataWriter(() => client);
}

describe('MorayMetadataWriter', () => {
  test('puts into bucket manta with the discovery etag as the condition', async () => {
    const calls: unknown[][] = [];
    await writerThrowing(undefined, calls).putObject(update, signal);
    assert.deepEqual(calls, [['manta', update.key, update.value, { etag: 'E1' }]]);
  });

  test('an etag conflict is a mismatch; a conflict with a missing object is not-found', async () => {
    await assert.rejects(
      writerThrowing(conflict('E9')).putObject(update, signal),
      MetadataEtagMismatchError,
    );
    await assert.rejects(
      writerThrowing(conflict('null')).putObject(update, signal),
      MetadataObjectNotFoundError,
    );
  });

  test('other errors pass through (transient: the pipeline retries them)', async () => {
    const boom = new Error('ECONNRESET');
    await assert.rejects(writerThrowing(boom).putObject(update, signal), (err) => err === boom);
  });

  test('an unreachable shard fails fast until its cool-down ends, then one probe goes', async () => {
    const down = new MorayConnectionError({
      name: 'MorayConnectionError',
      message: 'connect ECONNREFUSED',
      method: 'putObject',
      shard: '127.0.0.1:2020',
    });
    let failing = true;
    const calls: string[] = [];
    const client = {
      async putObject(_bucket: string, key: string) {
        calls.push(key);
        if (failing) throw down;
        return { etag: 'E2' };
      },
    } as unknown as MorayClient;
    const writer = new MorayMetadataWriter(() => client, 50);
    const other = { ...update, shard: 2 };
    await assert.rejects(writer.putObject(update, signal), (err) => err === down);
    // Shard 1 is not asked again during the cool-down; shard 2 still is.
    await assert.rejects(writer.putObject(update, signal), ShardUnavailableError);
    failing = false;
    await writer.putObject(other, signal);
    assert.deepEqual(calls, [update.key, other.key]);
    await new Promise((resolve) => setTimeout(resolve, 60));
    await writer.putObject(update, signal);
    await writer.putObject(update, signal);
    assert.equal(calls.length, 4);
  });
});

describe('PickerChooser', () => {
  const node = (id: string, dc: string) => ({
    manta_storage_id: id,
    datacenter: dc,
    availableMB: 10_000,
    percentUsed: 0,
    filesystem: '/manta',
    timestamp: 0,
  });

  test('places, reserves under the object id, releases; no snapshot means wait', () => {
    const reservations = new Reservations();
    const nodes = [node('1.stor', 'dc1'), node('2.stor', 'dc1')];
    let snapshot: { nodes: typeof nodes; fetchedAt: number; version: number } | undefined = {
      nodes,
      fetchedAt: 0,
      version: 1,
    };
    const picker = new DestinationPicker({
      evacuated: { manta_storage_id: '1.stor', datacenter: 'dc1' },
      snapshot: () => snapshot,
      reservations,
      seed: 1,
    });
    const chooser = new PickerChooser(picker, reservations, 'job:');
    const placed = chooser.choose(
      {
        id: 'o1',
        sharks: [{ manta_storage_id: '1.stor', datacenter: 'dc1' }],
        sizeBytes: 1000,
      },
      NONE,
    );
    assert.deepEqual(placed, {
      outcome: 'placed',
      shark: { manta_storage_id: '2.stor', datacenter: 'dc1' },
    });
    assert.equal(reservations.reservedBytes('2.stor'), 1000);
    chooser.release(['o1']);
    assert.equal(reservations.reservedBytes('2.stor'), 0);
    const onDest = chooser.choose(
      {
        id: 'o2',
        sharks: [
          { manta_storage_id: '1.stor', datacenter: 'dc1' },
          { manta_storage_id: '2.stor', datacenter: 'dc1' },
        ],
        sizeBytes: 1,
      },
      NONE,
    );
    assert.equal(onDest.outcome, 'skip');
    snapshot = undefined;
    assert.deepEqual(chooser.choose({ id: 'o3', sharks: [], sizeBytes: 1 }, NONE), {
      outcome: 'wait',
    });
  });

  test('landed copies stay counted until storinfo shows them; releaseAll keeps them', () => {
    const reservations = new Reservations({ settleMarginMs: 0 });
    let snapshot = { nodes: [node('2.stor', 'dc1')], fetchedAt: 0, version: 1 };
    const picker = new DestinationPicker({
      evacuated: { manta_storage_id: '1.stor', datacenter: 'dc1' },
      snapshot: () => snapshot,
      reservations,
      seed: 1,
    });
    const chooser = new PickerChooser(picker, reservations, 'job:');
    for (const id of ['a', 'b']) chooser.choose({ id, sharks: [], sizeBytes: 100 }, NONE);
    chooser.commit(['a']);
    chooser.release(['b']);
    chooser.releaseAll();
    // The job ended; its landed copy still counts against the shark until a newer record.
    assert.equal(reservations.reservedBytes('2.stor'), 100);
    const later = { ...node('2.stor', 'dc1'), timestamp: Date.now() + 1 };
    snapshot = { nodes: [later], fetchedAt: 0, version: 2 };
    chooser.choose({ id: 'c', sharks: [], sizeBytes: 1 }, NONE);
    assert.equal(reservations.reservedBytes('2.stor'), 1);
  });

  test('never-destinations are not used; destinations to avoid for now defer', () => {
    const reservations = new Reservations();
    const picker = new DestinationPicker({
      evacuated: { manta_storage_id: '1.stor', datacenter: 'dc1' },
      snapshot: () => ({
        nodes: [node('2.stor', 'dc1'), node('3.stor', 'dc1')],
        fetchedAt: 0,
        version: 1,
      }),
      reservations,
      seed: 1,
    });
    const chooser = new PickerChooser(picker, reservations, 'job:');
    const object = { id: 'o', sharks: [], sizeBytes: 1 };
    const never = { never: new Set(['2.stor']), later: new Set<string>() };
    for (let i = 0; i < 20; i++) {
      const placed = chooser.choose({ ...object, id: `o${i}` }, never);
      assert.equal(placed.outcome === 'placed' && placed.shark.manta_storage_id, '3.stor');
    }
    const later = { never: new Set(['2.stor']), later: new Set(['3.stor']) };
    assert.deepEqual(chooser.choose(object, later), { outcome: 'defer' });
    const both = { never: new Set(['2.stor', '3.stor']), later: new Set<string>() };
    assert.equal(chooser.choose(object, both).outcome, 'skip');
  });

  test('restore reserves a resumed assignment again; releaseAll frees the job', () => {
    const reservations = new Reservations();
    const picker = new DestinationPicker({
      evacuated: { manta_storage_id: '1.stor', datacenter: 'dc1' },
      snapshot: () => ({ nodes: [node('2.stor', 'dc1')], fetchedAt: 0, version: 1 }),
      reservations,
      seed: 1,
    });
    const chooser = new PickerChooser(picker, reservations, 'job:');
    const dest = { manta_storage_id: '2.stor', datacenter: 'dc1' };
    chooser.restore(dest, [
      { id: 'a', sizeBytes: 300 },
      { id: 'b', sizeBytes: 700 },
    ]);
    assert.equal(reservations.reservedBytes('2.stor'), 1000);
    // Restoring what is still held (a resume in the same process) counts it once.
    chooser.restore(dest, [{ id: 'a', sizeBytes: 300 }]);
    assert.equal(reservations.reservedBytes('2.stor'), 1000);
    chooser.choose({ id: 'c', sharks: [], sizeBytes: 5 }, NONE);
    assert.equal(reservations.reservedBytes('2.stor'), 1005);
    chooser.releaseAll();
    assert.equal(reservations.reservedBytes('2.stor'), 0);
  });
});

describe('MorayMetadataWriter.putBatch against a Moray shard', () => {
  test('writes every record at once, or none when one etag is stale', async () => {
    const tdb = await createTestDatabase();
    const shard = await startMorayShard({ db: tdb.db, log: silentLog });
    const client = new MorayClient({ host: shard.host, port: shard.port, log: silentLog });
    try {
      await createMantaBuckets(tdb.db);
      const etags: string[] = [];
      for (const key of ['/a/stor/1', '/a/stor/2']) {
        etags.push((await client.putObject('manta', key, { key, sharks: ['old'] })).etag);
      }
      const writer = new MorayMetadataWriter(() => client);
      const sharks = [{ datacenter: 'dc1', manta_storage_id: 'new' }];
      const updates = ['/a/stor/1', '/a/stor/2'].map((key, i) => ({
        shard: 1,
        key,
        etag: etags[i]!,
        value: mantaObject({ key, sharks }),
        previous: mantaObject({ key }),
      }));
      // One stale etag: the whole batch fails and nothing is written.
      await assert.rejects(
        writer.putBatch(1, [updates[0]!, { ...updates[1]!, etag: 'STALE' }], signal),
      );
      assert.deepEqual((await client.getObject('manta', '/a/stor/1')).value.sharks, ['old']);
      await writer.putBatch(1, updates, signal);
      for (const key of ['/a/stor/1', '/a/stor/2']) {
        assert.deepEqual((await client.getObject('manta', key)).value.sharks, sharks);
      }
    } finally {
      await client.close();
      await shard.close();
      await tdb.drop();
    }
  });
});

describe('MorayMetadataWriter.getObject against a Moray shard', () => {
  test('a live record is validated: an unusable one says why, a gone one is undefined', async () => {
    const tdb = await createTestDatabase();
    const shard = await startMorayShard({ db: tdb.db, log: silentLog });
    const client = new MorayClient({ host: shard.host, port: shard.port, log: silentLog });
    try {
      await createMantaBuckets(tdb.db);
      const good = mantaObject({ key: '/a/stor/good' });
      const { etag } = await client.putObject('manta', good.key, good);
      const dir = { key: '/a/stor/dir', owner: 'a', type: 'directory' };
      const dirEtag = (await client.putObject('manta', dir.key, dir)).etag;
      const writer = new MorayMetadataWriter(() => client);
      assert.deepEqual(await writer.getObject(ref(good.key), signal), { value: good, etag });
      assert.deepEqual(await writer.getObject(ref(dir.key), signal), {
        problem:
          'field record must have required properties objectId, contentLength, contentMD5, sharks',
        etag: dirEtag,
      });
      assert.equal(await writer.getObject(ref('/a/stor/gone'), signal), undefined);
    } finally {
      await client.close();
      await shard.close();
      await tdb.drop();
    }
  });
});
