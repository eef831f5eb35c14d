import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MorayClient } from '../../src/moray/index.ts';
import type { SandboxDescription } from '../../src/sandbox/description.ts';
import { seedSandbox } from '../../src/sandbox/seed/run.ts';
import { startSandbox, stopSandbox } from '../../src/sandbox/up.ts';
import {
  type ObjectSnapshot,
  type ObjectState,
  snapshotObjects,
  verifyEvacuation,
} from '../../src/sandbox/verify.ts';

const EVACUATED = '1.stor.verify.test';

describe('verifyEvacuation against a real sandbox', () => {
  let dir: string;
  let sandbox: SandboxDescription;
  let before_: ObjectSnapshot;
  let onEvacuated: ObjectState[];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'verify-test-'));
    sandbox = await startSandbox({
      dir,
      layout: {
        domain: 'verify.test',
        shards: 2,
        sharks: 4,
        datacenters: 2,
        sharkCapacityBytes: 1024 ** 3,
      },
      rebalancer: false,
      databaseUrl: process.env.REBALANCER_TEST_PG_URL,
    });
    await seedSandbox(sandbox, {
      objects: 40,
      minCopies: 1,
      maxCopies: 2,
      minSize: 16,
      maxSize: 4096,
      seed: 7,
    });
    before_ = await snapshotObjects(sandbox);
    onEvacuated = [...before_.values()].filter((o) => o.sharks.includes(EVACUATED));
    assert.ok(onEvacuated.length >= 6, `only ${onEvacuated.length} objects on ${EVACUATED}`);
    // Evacuate by hand, as a correct rebalancer would: copy each file, then rewrite the record.
    for (const object of onEvacuated) {
      const target = sandbox.sharks.find((s) => !object.sharks.includes(s.manta_storage_id));
      assert.ok(target);
      await copyTo(object, target.manta_storage_id);
      await rewriteSharks(object, (ids) =>
        ids.map((id) => (id === EVACUATED ? target.manta_storage_id : id)),
      );
    }
  });

  after(async () => {
    if (sandbox) await stopSandbox(dir);
    await rm(dir, { recursive: true, force: true });
  });

  const root = (id: string): string => {
    const shark = sandbox.sharks.find((s) => s.manta_storage_id === id);
    assert.ok(shark, `no shark ${id}`);
    return shark.root;
  };
  const fileOf = (object: ObjectState, id: string) => join(root(id), object.owner, object.objectId);

  async function copyTo(object: ObjectState, id: string): Promise<void> {
    const from = object.sharks[0] as string;
    await mkdir(join(root(id), object.owner), { recursive: true });
    await copyFile(fileOf(object, from), fileOf(object, id));
  }

  async function rewriteSharks(
    object: ObjectState,
    change: (ids: string[]) => string[],
  ): Promise<void> {
    const shard = sandbox.shards.find((s) => s.name === object.shard);
    assert.ok(shard);
    const client = new MorayClient({ host: shard.host, port: shard.port, connections: 1 });
    try {
      const current = await client.getObject('manta', object.key);
      const ids = (current.value.sharks as { manta_storage_id: string }[]).map(
        (s) => s.manta_storage_id,
      );
      const datacenter = (id: string) =>
        sandbox.sharks.find((s) => s.manta_storage_id === id)?.datacenter ?? 'dc-unknown';
      const sharks = change(ids).map((id) => ({
        datacenter: datacenter(id),
        manta_storage_id: id,
      }));
      await client.putObject(
        'manta',
        object.key,
        { ...current.value, sharks },
        { etag: current._etag },
      );
    } finally {
      await client.close();
    }
  }

  const verify = (skipped?: Set<string>) =>
    verifyEvacuation(sandbox, { evacuated: EVACUATED, before: before_, skipped });

  // The tests run in order, each breaking one more object: counts are cumulative on purpose.
  test('a correct evacuation verifies every object', async () => {
    const result = await verify();
    assert.deepEqual(result.problems, []);
    assert.equal(result.objects, before_.size);
    assert.equal(result.verified, before_.size);
    assert.equal(result.lost, 0);
    assert.equal(result.stillOnEvacuated, 0);
  });

  test('a snapshot records owner, objectId, MD5 and every copy', async () => {
    const now = await snapshotObjects(sandbox);
    assert.equal(now.size, before_.size);
    for (const object of now.values()) {
      assert.ok(!object.sharks.includes(EVACUATED));
      assert.match(object.contentMD5, /^[A-Za-z0-9+/]{22}==$/);
      assert.ok(object.sharks.length >= 1);
    }
  });

  test('a deleted copy is lost data', async () => {
    const victim = onEvacuated[0] as ObjectState;
    const now = (await snapshotObjects(sandbox)).get(victim.key) as ObjectState;
    await unlink(fileOf(now, now.sharks[0] as string));
    const result = await verify();
    assert.deepEqual(result.missingCopies, [
      { key: victim.key, shark: now.sharks[0], reason: 'file missing' },
    ]);
    assert.equal(result.lost, 1);
    assert.equal(result.verified, before_.size - 1);
  });

  test('a corrupt copy is lost data', async () => {
    const victim = onEvacuated[1] as ObjectState;
    const now = (await snapshotObjects(sandbox)).get(victim.key) as ObjectState;
    await writeFile(fileOf(now, now.sharks[0] as string), 'not the original bytes');
    const result = await verify();
    assert.ok(
      result.missingCopies.some(
        (m) => m.key === victim.key && m.shark === now.sharks[0] && m.reason === 'md5 mismatch',
      ),
    );
    assert.equal(result.lost, 2);
  });

  test('metadata naming a shark without the file is lost data', async () => {
    const victim = onEvacuated[2] as ObjectState;
    const now = (await snapshotObjects(sandbox)).get(victim.key) as ObjectState;
    const empty = sandbox.sharks
      .map((s) => s.manta_storage_id)
      .find((id) => id !== EVACUATED && !now.sharks.includes(id));
    assert.ok(empty);
    await rewriteSharks(now, (ids) => [empty, ...ids.slice(1)]);
    const result = await verify();
    assert.ok(
      result.missingCopies.some(
        (m) => m.key === victim.key && m.shark === empty && m.reason === 'file missing',
      ),
    );
    assert.equal(result.lost, 3);
  });

  test('fewer copies than before is lost data even when the rest are intact', async () => {
    const victim = onEvacuated.slice(3, -1).find((o) => o.sharks.length === 2);
    assert.ok(victim, 'no two-copy object on the evacuated shark');
    await rewriteSharks(victim, (ids) => ids.slice(0, 1));
    const result = await verify();
    assert.equal(result.reducedCopies, 1);
    assert.ok(result.problems.some((p) => p.startsWith(`${victim.key}: 1 distinct copies`)));
    assert.equal(result.lost, 4);
  });

  test('a reference to the evacuated shark fails unless the manager reported it skipped', async () => {
    const victim = onEvacuated[onEvacuated.length - 1] as ObjectState;
    // The original file on the evacuated shark is still there: only the reference is wrong.
    await rewriteSharks(victim, (ids) => [EVACUATED, ...ids.slice(1)]);
    const failing = await verify();
    assert.equal(failing.stillOnEvacuated, 1);
    assert.ok(failing.problems.some((p) => p.includes('not reported skipped')));
    const allowed = await verify(new Set([victim.key]));
    assert.equal(allowed.stillOnEvacuated, 0);
    assert.equal(allowed.verified, failing.verified + 1);
    assert.equal(allowed.lost, failing.lost);
  });
});
