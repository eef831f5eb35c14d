import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { KeyedMutex, sleep } from '../../src/async/index.ts';

describe('KeyedMutex', () => {
  test('runs on one key one at a time, in call order', async () => {
    const mutex = new KeyedMutex();
    const events: string[] = [];
    const job = (name: string, ms: number) =>
      mutex.run('k', async () => {
        events.push(`${name} start`);
        await sleep(ms);
        events.push(`${name} end`);
        return name;
      });
    const results = await Promise.all([job('a', 20), job('b', 1), job('c', 5)]);
    assert.deepEqual(results, ['a', 'b', 'c']);
    assert.deepEqual(events, ['a start', 'a end', 'b start', 'b end', 'c start', 'c end']);
    assert.equal(mutex.size, 0, 'the key is forgotten once its last run ended');
  });

  test('different keys run at once', async () => {
    const mutex = new KeyedMutex();
    let running = 0;
    let most = 0;
    const job = (key: string) =>
      mutex.run(key, async () => {
        running++;
        most = Math.max(most, running);
        await sleep(10);
        running--;
      });
    await Promise.all([job('x'), job('y'), job('z')]);
    assert.equal(most, 3);
  });

  test('a run that throws releases the key for the next', async () => {
    const mutex = new KeyedMutex();
    const failed = mutex.run('k', async () => {
      await sleep(5);
      throw new Error('install failed');
    });
    const next = mutex.run('k', async () => 'next ran');
    await assert.rejects(failed, /install failed/);
    assert.equal(await next, 'next ran');
    assert.equal(mutex.size, 0);
  });
});
