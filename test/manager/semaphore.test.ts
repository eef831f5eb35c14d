import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Semaphore } from '../../src/manager/semaphore.ts';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('Semaphore', () => {
  test('grants up to its limit, then in order as permits are released', async () => {
    const sem = new Semaphore(2);
    await sem.acquire();
    await sem.acquire();
    const order: number[] = [];
    const third = sem.acquire().then(() => order.push(3));
    const fourth = sem.acquire().then(() => order.push(4));
    await tick();
    assert.deepEqual(order, []);
    sem.release();
    await third;
    assert.deepEqual(order, [3]);
    sem.release();
    await fourth;
    assert.deepEqual(order, [3, 4]);
    assert.equal(sem.inUse, 2);
  });

  test('a raised limit wakes waiters at once; a lowered one applies as permits return', async () => {
    const sem = new Semaphore(1);
    await sem.acquire();
    const waiting = sem.acquire();
    sem.setLimit(2);
    await waiting;
    assert.equal(sem.inUse, 2);
    sem.setLimit(1);
    sem.release();
    let granted = false;
    const next = sem.acquire().then(() => {
      granted = true;
    });
    await tick();
    assert.equal(granted, false, 'still one permit in use at a limit of 1');
    sem.release();
    await next;
    assert.equal(granted, true);
  });

  test('an aborted wait rejects with the reason and takes no permit', async () => {
    const sem = new Semaphore(1);
    await sem.acquire();
    const abort = new AbortController();
    const waiting = sem.acquire(abort.signal);
    const after = sem.acquire();
    abort.abort(new Error('job stopped'));
    await assert.rejects(waiting, /job stopped/);
    sem.release();
    await after; // the permit went to the next waiter, not the aborted one
    assert.equal(sem.inUse, 1);
    await assert.rejects(sem.acquire(abort.signal), /job stopped/, 'already aborted');
    assert.equal(sem.inUse, 1);
  });

  test('rejects a limit below 1', () => {
    assert.throws(() => new Semaphore(0), RangeError);
    assert.throws(() => new Semaphore(1).setLimit(1.5), RangeError);
  });
});
