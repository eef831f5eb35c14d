/**
 * The audit's classification of one object against real makos over HTTP (the sandbox's mako
 * stand-in serving its directory): only copy, another copy present, deleted, of another size,
 * of other bytes (a HEAD cannot tell, an MD5 read can), a mako that does not answer, and a
 * buckets (v2) object found at its v2 path.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { classify, copyPath } from '../../../src/manager/audit/classify.ts';
import type { MakoCopyChecker } from '../../../src/manager/audit/copy-check.ts';
import { type MantaObjectValue, md5Base64 } from '../../../src/manta/index.ts';
import { AuditFixture, type PutObject, shark } from './fixture.ts';

describe('audit: classification against real makos', { timeout: 120_000 }, () => {
  let f: AuditFixture;
  let checker: MakoCopyChecker;
  before(async () => {
    f = await AuditFixture.start(3);
    checker = f.checker();
  });
  after(async () => {
    await checker.close();
    await f.stop();
  });

  const signal = new AbortController().signal;
  const record = async (o: PutObject): Promise<MantaObjectValue> =>
    (await f.client.getObject('manta', o.key)).value as MantaObjectValue;
  const of = async (o: PutObject, deep = false) =>
    classify(await record(o), { shark: shark(1), deep, copies: checker, signal });

  test('the only copy is on the shark: unsafe only_copy, no mako asked', async () => {
    const o = await f.put({ sharks: [1] });
    const before = f.mako(2).requests.list().length + f.mako(3).requests.list().length;
    assert.equal(await of(o), 'only_copy');
    assert.equal(await of(o, true), 'only_copy');
    assert.equal(f.mako(2).requests.list().length + f.mako(3).requests.list().length, before);
  });

  test('another copy present on its mako: safe (HEAD, and MD5 with deep)', async () => {
    const o = await f.put({ sharks: [1, 2] });
    assert.equal(await of(o), 'safe');
    assert.equal(await of(o, true), 'safe');
    const seen = f
      .mako(2)
      .requests.list()
      .filter((r) => r.path === `/${o.owner}/${o.objectId}`);
    assert.deepEqual(
      seen.map((r) => `${r.method} ${r.status}`),
      ['HEAD 200', 'GET 200'],
    );
  });

  test('one good other copy suffices, whatever the order', async () => {
    const o = await f.put({ sharks: [2, 1, 3], without: [2] });
    assert.equal(await of(o), 'safe');
  });

  test('the other copy deleted from its mako: unsafe other_copies_missing', async () => {
    const o = await f.put({ sharks: [1, 2, 3] });
    await f.removeCopy(2, o);
    await f.removeCopy(3, o);
    assert.equal(await of(o), 'other_copies_missing');
    assert.equal(await of(o, true), 'other_copies_missing');
  });

  test('another size than the record says: missing', async () => {
    const o = await f.put({ sharks: [1, 2] });
    await writeFile(f.file(2, o), o.content.subarray(1));
    assert.equal(await of(o), 'other_copies_missing');
  });

  test('other bytes of the same size: safe by HEAD, other_copies_missing with deep', async () => {
    const o = await f.put({ sharks: [1, 2] });
    await f.corruptCopy(2, o);
    assert.equal(await of(o), 'safe');
    assert.equal(await of(o, true), 'other_copies_missing');
  });

  test('a mako that does not answer: other_copies_unverified, never safe', async () => {
    const o = await f.put({ sharks: [1, 3] });
    const p = await f.put({ sharks: [1, 2, 3], without: [2] });
    f.mako(3).faults.set({ error: { rate: 1, status: 503 } });
    try {
      assert.equal(await of(o), 'other_copies_unverified');
      // Missing on one, unanswered on the other: still not proven absent.
      assert.equal(await of(p), 'other_copies_unverified');
      const asked = f
        .mako(3)
        .requests.list()
        .filter((r) => r.path === `/${o.owner}/${o.objectId}`);
      assert.equal(asked.length, 2, 'asked again before giving up');
    } finally {
      f.mako(3).faults.reset();
    }
    assert.equal(await of(o), 'safe');
  });

  test('a mako that is gone (connection refused): unverified', async () => {
    const lone = await AuditFixture.start(2);
    const lonely = lone.checker();
    try {
      const o = await lone.put({ sharks: [1, 2] });
      await lone.mako(2).close();
      const value = (await lone.client.getObject('manta', o.key)).value as MantaObjectValue;
      assert.equal(
        await classify(value, { shark: shark(1), deep: false, copies: lonely, signal }),
        'other_copies_unverified',
      );
    } finally {
      await lonely.close();
      lone.makos.delete(2);
      await lone.stop();
    }
  });

  test('a buckets (v2) object is looked for at its v2 path', async () => {
    const content = randomBytes(100);
    const value: MantaObjectValue = {
      key: 'photos/cat.jpg',
      name: 'photos/cat.jpg',
      owner: '8b2c4b8e-7d1c-4f3e-9a55-2b7c0c7b6a10',
      type: 'object',
      objectId: randomUUID(),
      bucket_id: randomUUID(),
      contentLength: content.length,
      contentMD5: md5Base64(content),
      sharks: [
        { datacenter: 'dc1', manta_storage_id: shark(1) },
        { datacenter: 'dc1', manta_storage_id: shark(2) },
      ],
    };
    const path = copyPath(value);
    assert.match(path ?? '', /^\/v2\/[^/]+\/[^/]+\/[0-9a-f]{2}\/[^/]+,[0-9a-f]{32}$/);
    const ctx = { shark: shark(1), deep: true, copies: checker, signal };
    assert.equal(await classify(value, ctx), 'other_copies_missing');
    const file = join(f.mako(2).root, path ?? '');
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, content);
    assert.equal(await classify(value, ctx), 'safe');
  });
});
