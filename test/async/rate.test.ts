import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RateLimiter } from '../../src/async/index.ts';

describe('RateLimiter', () => {
  test('unlimited passes everything at once', async () => {
    const limiter = new RateLimiter(null);
    const started = performance.now();
    for (let i = 0; i < 1000; i++) await limiter.acquire(1_000_000);
    assert.ok(performance.now() - started < 200);
    assert.equal(limiter.rate, null);
  });

  test('holds the long-run rate to the limit, a first burst aside', async () => {
    const limiter = new RateLimiter(200);
    const started = performance.now();
    // 200 pass at once (a full bucket), the next 100 take about half a second.
    for (let i = 0; i < 300; i++) await limiter.acquire(1);
    const seconds = (performance.now() - started) / 1000;
    assert.ok(seconds >= 0.45 && seconds < 1.5, `took ${seconds}s`);
  });

  test('a request larger than the bucket waits for a full bucket and leaves it in debt', async () => {
    const limiter = new RateLimiter(100);
    await limiter.acquire(100);
    const started = performance.now();
    await limiter.acquire(300); // waits for a full bucket (1 s), then owes 200
    const first = performance.now() - started;
    await limiter.acquire(1); // the debt: about 2 s
    const second = performance.now() - started - first;
    assert.ok(first >= 900 && first < 1800, `first ${first}ms`);
    assert.ok(second >= 1800 && second < 3200, `second ${second}ms`);
  });

  test('a new rate applies to a waiter at once', async () => {
    const limiter = new RateLimiter(1);
    await limiter.acquire(1);
    const started = performance.now();
    const waiting = limiter.acquire(1); // about 1 s at 1/s
    limiter.setRate(1000);
    await waiting;
    assert.ok(performance.now() - started < 200);
    limiter.setRate(null);
    await limiter.acquire(1e9);
  });

  test('waiters are served in order; an abort leaves the queue', async () => {
    const limiter = new RateLimiter(20);
    await limiter.acquire(20);
    const order: number[] = [];
    const abort = new AbortController();
    const a = limiter.acquire(2).then(() => order.push(1));
    const b = limiter.acquire(2, abort.signal).then(
      () => order.push(2),
      (err: unknown) => order.push(err === 'stop' ? -2 : 99),
    );
    const c = limiter.acquire(2).then(() => order.push(3));
    abort.abort('stop');
    await Promise.all([a, b, c]);
    assert.deepEqual(order, [-2, 1, 3]);
  });

  test('refuses a rate that is not positive and units that are negative', () => {
    assert.throws(() => new RateLimiter(0), RangeError);
    assert.throws(() => new RateLimiter(-1), RangeError);
    assert.throws(() => new RateLimiter(Number.NaN), RangeError);
    assert.throws(() => new RateLimiter(1).acquire(-1), RangeError);
  });
});
