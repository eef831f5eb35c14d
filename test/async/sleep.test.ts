import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, test } from 'node:test';
import { sleep } from '../../src/async/index.ts';

describe('sleep', () => {
  test('resolves after about the time asked', async () => {
    const started = performance.now();
    await sleep(30);
    assert.ok(performance.now() - started >= 25, 'did not wait');
  });

  test('an abort while waiting rejects at once with the signal reason', async () => {
    const abort = new AbortController();
    const reason = new Error('job cancelled');
    const started = performance.now();
    const waiting = sleep(10_000, abort.signal);
    setTimeout(() => abort.abort(reason), 10);
    await assert.rejects(waiting, (err) => err === reason);
    assert.ok(performance.now() - started < 5000, 'the timer was not cut short');
  });

  test('an already aborted signal rejects without waiting', async () => {
    const reason = new Error('stopped before');
    await assert.rejects(sleep(10_000, AbortSignal.abort(reason)), (err) => err === reason);
  });

  test('a signal that never aborts keeps no listener after the wait', async () => {
    const abort = new AbortController();
    const waiting = sleep(1, abort.signal);
    assert.equal(getEventListeners(abort.signal, 'abort').length, 1);
    await waiting;
    assert.equal(getEventListeners(abort.signal, 'abort').length, 0);
  });
});
