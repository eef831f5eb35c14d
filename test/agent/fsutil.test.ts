import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DirectorySyncer } from '../../src/agent/fsutil.ts';

describe('DirectorySyncer', () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dirsync-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('requests made while an fsync runs share the one that follows it', async () => {
    const syncer = new DirectorySyncer();
    const first = syncer.sync(dir);
    const second = syncer.sync(dir);
    const third = syncer.sync(dir);
    // The first fsync may have started before the callers' renames: they need a later one.
    assert.notEqual(second, first);
    assert.equal(third, second);
    const order: string[] = [];
    await Promise.all([
      first.then(() => order.push('first')),
      second.then(() => order.push('second')),
    ]);
    assert.deepEqual(order, ['first', 'second']);
    // Once idle, a new request starts its own fsync.
    const fourth = syncer.sync(dir);
    assert.notEqual(fourth, second);
    await fourth;
  });

  test('directories are synced independently', async () => {
    const other = join(dir, 'other');
    await mkdir(other);
    const syncer = new DirectorySyncer();
    const a = syncer.sync(dir);
    const b = syncer.sync(other);
    assert.notEqual(a, b);
    await Promise.all([a, b]);
  });

  test('a failed fsync rejects every request that shares it, and the next one starts anew', async () => {
    const gone = join(dir, 'gone');
    const syncer = new DirectorySyncer();
    const first = syncer.sync(gone);
    const second = syncer.sync(gone);
    await assert.rejects(first, { code: 'ENOENT' });
    await assert.rejects(second, { code: 'ENOENT' });
    await mkdir(gone);
    await syncer.sync(gone);
  });

  test('a forgotten or replaced directory is fsynced through a fresh handle', async () => {
    const replaced = join(dir, 'replaced');
    await mkdir(replaced);
    const syncer = new DirectorySyncer();
    await syncer.sync(replaced);
    // Forgotten while an fsync runs: that fsync still completes on the old handle.
    const running = syncer.sync(replaced);
    syncer.forget(replaced);
    await running;
    await rm(replaced, { recursive: true });
    await mkdir(replaced);
    await syncer.sync(replaced);
    // Many directories: handles beyond the bound are closed, every sync still succeeds.
    const many = Array.from({ length: 80 }, (_, i) => join(dir, `many-${i}`));
    for (const d of many) await mkdir(d);
    await Promise.all(many.map((d) => syncer.sync(d)));
    await Promise.all(many.map((d) => syncer.sync(d)));
    syncer.close();
  });
});
