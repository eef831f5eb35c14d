import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BoundedQueue, QueueClosedError } from '../../src/manager/queue.ts';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('BoundedQueue', () => {
  test('rejects a non-positive capacity', () => {
    assert.throws(() => new BoundedQueue(0), RangeError);
  });

  test('push waits while full and resumes when the consumer takes an item', async () => {
    const q = new BoundedQueue<number>(2);
    await q.push(1);
    await q.push(2);
    let third = false;
    const pending = q.push(3).then(() => {
      third = true;
    });
    await tick();
    assert.equal(third, false, 'push must wait while the queue is full');
    assert.equal(q.size, 2);
    assert.deepEqual(await q.shift(), { done: false, value: 1 });
    await pending;
    assert.equal(third, true);
    assert.equal(q.size, 2);
  });

  test('items come out in order and the iterator ends after close and drain', async () => {
    const q = new BoundedQueue<number>(3);
    const producer = (async () => {
      for (let i = 0; i < 100; i++) await q.push(i);
      q.close();
    })();
    const seen: number[] = [];
    for await (const v of q) {
      assert.ok(q.size <= 3);
      seen.push(v);
    }
    await producer;
    assert.deepEqual(
      seen,
      Array.from({ length: 100 }, (_, i) => i),
    );
  });

  test('a waiting consumer is woken by a push and ended by close', async () => {
    const q = new BoundedQueue<string>(1);
    const first = q.shift();
    await q.push('a');
    assert.deepEqual(await first, { done: false, value: 'a' });
    const second = q.shift();
    q.close();
    assert.deepEqual(await second, { done: true, value: undefined });
    await assert.rejects(q.push('b'), QueueClosedError);
  });

  test('close rejects a push waiting for room', async () => {
    const q = new BoundedQueue<number>(1);
    await q.push(1);
    const blocked = q.push(2);
    q.close();
    await assert.rejects(blocked, QueueClosedError);
    assert.deepEqual(await q.shift(), { done: false, value: 1 });
    assert.deepEqual(await q.shift(), { done: true, value: undefined });
  });

  test('fail reaches a blocked producer and a waiting consumer', async () => {
    const q = new BoundedQueue<number>(1);
    await q.push(1);
    const blocked = q.push(2);
    const boom = new Error('downstream failed');
    q.fail(boom);
    await assert.rejects(blocked, (err) => err === boom);
    await assert.rejects(q.shift(), (err) => err === boom);

    const q2 = new BoundedQueue<number>(1);
    const waiting = q2.shift();
    q2.fail(boom);
    await assert.rejects(waiting, (err) => err === boom);
    await assert.rejects(q2.push(3), (err) => err === boom);
  });

  test('an iterating consumer sees the producer error', async () => {
    const q = new BoundedQueue<number>(2);
    await q.push(1);
    const boom = new Error('discovery failed');
    setImmediate(() => q.fail(boom));
    await assert.rejects(async () => {
      for await (const _ of q) {
        // consume until the error arrives
      }
    }, /discovery failed/);
  });
});
