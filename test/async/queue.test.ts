import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BoundedQueue, QueueClosedError } from '../../src/async/index.ts';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('BoundedQueue between pipeline stages (close, fail)', () => {
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

describe('BoundedQueue from many producers to one consumer (discovery)', () => {
  test('push waits while full; the consumer drains in order', async () => {
    const q = new BoundedQueue<number>(2);
    let pushed = 0;
    const producer = (async () => {
      for (let i = 0; i < 10; i++) {
        await q.push(i);
        pushed++;
      }
      q.close();
    })();
    await tick();
    assert.equal(pushed, 2, 'blocked at capacity');
    const got: number[] = [];
    for await (const v of q) got.push(v);
    await producer;
    assert.deepEqual(got, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  test('close(error) delivers what is queued, then throws', async () => {
    const q = new BoundedQueue<number>(5);
    await q.push(1);
    await q.push(2);
    q.close(new Error('shard 3 failed'));
    q.close(new Error('a later end changes nothing'));
    const got: number[] = [];
    await assert.rejects(async () => {
      for await (const v of q) got.push(v);
    }, /shard 3 failed/);
    assert.deepEqual(got, [1, 2]);
    await assert.rejects(q.shift(), /shard 3 failed/, 'and keeps throwing');
    await assert.rejects(q.push(3), QueueClosedError);
  });

  test('close(error) reaches a consumer already waiting', async () => {
    const q = new BoundedQueue<number>(1);
    const waiting = q.shift();
    q.close(new Error('scan aborted'));
    await assert.rejects(waiting, /scan aborted/);
  });

  test('a consumer that stops early releases blocked producers and cancels', async () => {
    let stops = 0;
    const q = new BoundedQueue<number>(1, { onConsumerStop: () => stops++ });
    await q.push(1);
    const second = q.push(2);
    const third = q.push(3);
    for await (const _ of q) break;
    assert.equal(stops, 1);
    // Taking item 1 made room for item 2; item 3 was still waiting and is refused.
    await second;
    await assert.rejects(third, QueueClosedError);
    await assert.rejects(q.push(4), QueueClosedError);
    assert.equal(q.size, 0, 'what was queued is dropped');
    assert.deepEqual(await q.shift(), { done: true, value: undefined });
  });

  test('a consumer whose loop throws cancels too', async () => {
    let stops = 0;
    const q = new BoundedQueue<number>(1, { onConsumerStop: () => stops++ });
    await q.push(1);
    const blocked = q.push(2);
    await assert.rejects(async () => {
      for await (const _ of q) throw new Error('consumer failed');
    }, /consumer failed/);
    assert.equal(stops, 1);
    await blocked; // moved into the queue when item 1 was taken, before the consumer left
    await assert.rejects(q.push(3), QueueClosedError);
  });

  test('a consumer that reached the end does not cancel', async () => {
    let stops = 0;
    const q = new BoundedQueue<number>(2, { onConsumerStop: () => stops++ });
    await q.push(1);
    q.close();
    for await (const _ of q) {
      // drained
    }
    const failed = new BoundedQueue<number>(2, { onConsumerStop: () => stops++ });
    failed.close(new Error('ended with an error'));
    await assert.rejects(async () => {
      for await (const _ of failed) {
        // throws at the end
      }
    });
    const broken = new BoundedQueue<number>(2, { onConsumerStop: () => stops++ });
    await broken.push(1);
    broken.close();
    for await (const _ of broken) break; // the last item: closed and drained
    assert.equal(stops, 0);
  });

  test('without onConsumerStop, leaving a loop early changes nothing', async () => {
    const q = new BoundedQueue<number>(2);
    await q.push(1);
    await q.push(2);
    for await (const _ of q) break;
    await q.push(3);
    assert.deepEqual(await q.shift(), { done: false, value: 2 });
    assert.deepEqual(await q.shift(), { done: false, value: 3 });
  });
});

describe('BoundedQueue edges', () => {
  test('close while several pushers wait rejects them all and keeps what is queued', async () => {
    const q = new BoundedQueue<number>(2);
    await q.push(1);
    await q.push(2);
    const waiting = [q.push(3), q.push(4), q.push(5)];
    q.close();
    for (const w of waiting) await assert.rejects(w, QueueClosedError);
    const got: number[] = [];
    for await (const v of q) got.push(v);
    assert.deepEqual(got, [1, 2]);
  });

  test('fail drops what is queued and reaches several waiting consumers', async () => {
    const q = new BoundedQueue<number>(3);
    const consumers = [q.shift(), q.shift()];
    const boom = new Error('stage failed');
    q.fail(boom);
    for (const c of consumers) await assert.rejects(c, (err) => err === boom);
    const q2 = new BoundedQueue<number>(3);
    await q2.push(1);
    q2.fail(boom);
    assert.equal(q2.size, 0);
    assert.equal(q2.isClosed, true);
    await assert.rejects(q2.shift(), (err) => err === boom);
  });

  test('fail after close reaches the consumer; close after fail changes nothing', async () => {
    const q = new BoundedQueue<number>(2);
    await q.push(1);
    q.close();
    const boom = new Error('downstream failed');
    q.fail(boom);
    await assert.rejects(q.shift(), (err) => err === boom);
    q.close();
    await assert.rejects(q.shift(), (err) => err === boom);
  });

  test('many consumers share the items, each exactly once', async () => {
    const q = new BoundedQueue<number>(4);
    const seen: number[] = [];
    const consumer = async () => {
      for await (const v of q) {
        seen.push(v);
        await tick();
      }
    };
    const consumers = [consumer(), consumer(), consumer()];
    for (let i = 0; i < 50; i++) await q.push(i);
    q.close();
    await Promise.all(consumers);
    assert.deepEqual(
      seen.sort((a, b) => a - b),
      Array.from({ length: 50 }, (_, i) => i),
    );
  });

  test('memory of taken items is reclaimed on long runs (order kept across compaction)', async () => {
    const q = new BoundedQueue<number>(3000);
    for (let i = 0; i < 3000; i++) await q.push(i);
    for (let i = 0; i < 2000; i++) assert.deepEqual(await q.shift(), { done: false, value: i });
    for (let i = 3000; i < 4000; i++) await q.push(i);
    assert.equal(q.size, 2000);
    for (let i = 2000; i < 4000; i++) assert.deepEqual(await q.shift(), { done: false, value: i });
  });
});
