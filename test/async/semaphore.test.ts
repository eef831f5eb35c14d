import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Semaphore } from '../../src/async/index.ts';

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

describe('Semaphore, further edges', () => {
  test('lowering the limit below the permits held grants nothing until enough return', async () => {
    const sem = new Semaphore(3);
    await sem.acquire();
    await sem.acquire();
    await sem.acquire();
    sem.setLimit(1);
    let granted = false;
    const next = sem.acquire().then(() => {
      granted = true;
    });
    sem.release();
    sem.release();
    await tick();
    assert.equal(granted, false, 'one permit still held at a limit of 1');
    assert.equal(sem.inUse, 1);
    sem.release();
    await next;
    assert.equal(sem.inUse, 1);
    assert.equal(sem.currentLimit, 1);
  });

  test('raising the limit wakes as many waiters as it allows, in order', async () => {
    const sem = new Semaphore(1);
    await sem.acquire();
    const order: number[] = [];
    const waiters = [1, 2, 3].map((n) => sem.acquire().then(() => order.push(n)));
    sem.setLimit(3);
    await tick();
    assert.deepEqual(order, [1, 2]);
    sem.release();
    await Promise.all(waiters);
    assert.deepEqual(order, [1, 2, 3]);
  });

  test('run releases its permit when the work throws', async () => {
    const sem = new Semaphore(1);
    await assert.rejects(
      sem.run(async () => {
        throw new Error('work failed');
      }),
      /work failed/,
    );
    assert.equal(sem.inUse, 0);
    assert.equal(await sem.run(async () => 7), 7);
  });

  test('an abort after the permit was granted changes nothing', async () => {
    const sem = new Semaphore(1);
    await sem.acquire();
    const abort = new AbortController();
    const waiting = sem.acquire(abort.signal);
    sem.release();
    await waiting;
    abort.abort(new Error('too late'));
    assert.equal(sem.inUse, 1);
    sem.release();
    assert.equal(sem.inUse, 0);
  });
});
