import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BoundedChannel, ChannelClosedError } from '../../src/discovery/index.ts';

test('push waits while full; the consumer drains in order', async () => {
  const ch = new BoundedChannel<number>(2);
  let pushed = 0;
  const producer = (async () => {
    for (let i = 0; i < 10; i++) {
      await ch.push(i);
      pushed++;
    }
    ch.end();
  })();
  await new Promise((r) => setImmediate(r));
  assert.equal(pushed, 2, 'blocked at capacity');
  const got: number[] = [];
  for await (const v of ch) got.push(v);
  await producer;
  assert.deepEqual(got, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

test('end(error) delivers what is queued, then throws', async () => {
  const ch = new BoundedChannel<number>(5);
  await ch.push(1);
  await ch.push(2);
  ch.end(new Error('shard 3 failed'));
  const got: number[] = [];
  await assert.rejects(async () => {
    for await (const v of ch) got.push(v);
  }, /shard 3 failed/);
  assert.deepEqual(got, [1, 2]);
});

test('a consumer that stops early releases blocked producers and cancels', async () => {
  let cancelled = false;
  const ch = new BoundedChannel<number>(1, () => {
    cancelled = true;
  });
  await ch.push(1);
  const second = ch.push(2);
  const third = ch.push(3);
  for await (const _ of ch) break;
  assert.ok(cancelled);
  // Taking item 1 made room for item 2; item 3 was still waiting and is refused.
  await second;
  await assert.rejects(third, ChannelClosedError);
  await assert.rejects(ch.push(4), ChannelClosedError);
});
