/**
 * `batchupdateobjects` of the buckets-mdapi stand-in on the wire: one transaction per vnode
 * (a failure rolls its whole vnode back), the failed_vnodes reply with the payloads as the
 * server decodes them, the same writes as updateobject, the limits.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { FastServerError } from '../../../src/fast/index.ts';
import { backends, NOT_FOUND, wireFixture } from './helpers.ts';

for (const backend of backends()) {
  describe(`batchupdateobjects of the stand-in on ${backend.label}`, () => {
    const w = wireFixture(backend);
    const { call, one, create, key, updateOf } = w;

    test('batchupdateobjects: one transaction per vnode; a failure rolls its whole vnode back', async () => {
      const a1 = await create('batch-a1');
      const a2 = await create('batch-a2');
      const c1 = await create('batch-c1', { vnode: 2 });
      const stale = randomUUID();
      const payload = (o: Record<string, unknown>, vnode: number, extra = {}) => ({
        ...updateOf(o, { vnode, content_type: 'batched', request_id: randomUUID() }),
        ...extra,
      });
      const bad = payload(c1, 2, { conditions: { 'if-match': [stale] } });
      const reply = await one('batchupdateobjects', {
        objects: [payload(a1, 0), payload(c1, 2, { name: 'batch-c1' }), payload(a2, 0), bad],
      });
      const failed = reply.failed_vnodes as Record<string, unknown>[];
      assert.equal(failed.length, 1);
      assert.equal(failed[0]?.vnode, 2);
      assert.deepEqual(failed[0]?.error, {
        error: {
          name: 'PreconditionFailedError',
          message: `if-match '"${stale}"' didn't match etag '${c1.id}'`,
        },
      });
      const echoed = failed[0]?.objects as Record<string, unknown>[];
      assert.deepEqual(
        echoed.map((o) => o.name),
        ['batch-c1', 'batch-c1'],
      );
      assert.deepEqual(echoed[1]?.conditions, {
        if_match: [stale],
        if_none_match: null,
        if_modified_since: null,
        if_unmodified_since: null,
      });
      assert.equal(echoed[0]?.sharks, null, 'absent members are echoed as null');
      const type = async (name: string, vnode: number) =>
        (await one('getobject', key(name, vnode))).content_type;
      assert.equal(await type('batch-a1', 0), 'batched');
      assert.equal(await type('batch-a2', 0), 'batched');
      assert.equal(await type('batch-c1', 2), 'text/plain', 'vnode 2 rolled back entirely');
    });

    test('batchupdateobjects writes exactly what updateobject writes, for every shape', async () => {
      const cases: Record<string, unknown>[] = [
        {
          headers: { a: null, '': '', é: 'x "y"' },
          sharks: [{ datacenter: 'd', manta_storage_id: 's' }],
        },
        { headers: {}, sharks: null, properties: { p: [null, 1] } },
        { headers: { k: 'v' }, sharks: [], properties: 'text' },
        { headers: { k: 'v' }, properties: null, conditions: { if_match: ['*'] } },
      ];
      for (const [i, extra] of cases.entries()) {
        const single = await create(`same-single-${i}`, {
          headers: { old: 'x' },
          properties: { old: 1 },
        });
        const batched = await create(`same-batch-${i}`, {
          headers: { old: 'x' },
          properties: { old: 1 },
        });
        const viaUpdate = await one(
          'updateobject',
          updateOf(single, { content_type: 'z', ...extra }),
        );
        const reply = await one('batchupdateobjects', {
          objects: [
            { ...updateOf(batched, { content_type: 'z', ...extra }), request_id: randomUUID() },
          ],
        });
        assert.deepEqual(reply, { failed_vnodes: [] });
        const viaBatch = await one('getobject', key(`same-batch-${i}`));
        const comparable = (o: Record<string, unknown>) => ({
          ...o,
          id: undefined,
          name: undefined,
          created: undefined,
          modified: undefined,
        });
        assert.deepEqual(comparable(viaBatch), comparable(viaUpdate), `case ${i}`);
      }
    });

    test('batchupdateobjects: an object named twice is updated in order; other conditions apply', async () => {
      const o = await create('twice');
      const first = { ...updateOf(o, { content_type: 'first' }), request_id: randomUUID() };
      const second = { ...updateOf(o, { content_type: 'second' }), request_id: randomUUID() };
      assert.deepEqual(await one('batchupdateobjects', { objects: [first, second] }), {
        failed_vnodes: [],
      });
      assert.equal((await one('getobject', key('twice'))).content_type, 'second');
      const guarded = {
        ...updateOf(o, { content_type: 'third' }),
        request_id: randomUUID(),
        conditions: { 'if-none-match': [o.id] },
      };
      const reply = await one('batchupdateobjects', { objects: [first, guarded] });
      assert.deepEqual(
        (reply.failed_vnodes as { error: { error: { name: string } } }[]).map(
          (f) => f.error.error.name,
        ),
        ['PreconditionFailedError'],
      );
      assert.equal((await one('getobject', key('twice'))).content_type, 'second', 'rolled back');
    });

    test('batchupdateobjects: missing rows, empty batch, size limit, per-object request ids', async () => {
      const o = await create('batch-missing');
      const missing = { ...updateOf(o), id: randomUUID(), request_id: randomUUID() };
      const reply = await one('batchupdateobjects', { objects: [missing] });
      assert.deepEqual(
        (reply.failed_vnodes as { error: unknown }[]).map((f) => f.error),
        [NOT_FOUND],
      );
      assert.deepEqual(await one('batchupdateobjects', { objects: [] }), { failed_vnodes: [] });
      const many = Array.from({ length: 1001 }, () => ({
        ...updateOf(o),
        request_id: randomUUID(),
      }));
      assert.deepEqual(await one('batchupdateobjects', { objects: many }), {
        error: { name: 'LimitConstraintError', message: 'batch size 1001 exceeds maximum of 1000' },
      });
      await assert.rejects(
        call('batchupdateobjects', { objects: [updateOf(o)] }),
        (err: unknown) => {
          assert.ok(err instanceof FastServerError);
          assert.equal(err.name, 'FastError');
          assert.equal(err.message, 'missing field `request_id`');
          return true;
        },
      );
    });
  });
}
