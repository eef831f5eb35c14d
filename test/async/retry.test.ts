import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { backoff, RetriesExhaustedError, retry } from '../../src/async/index.ts';

class Transient extends Error {}

describe('backoff', () => {
  test('exponential from initialMs, capped at maxMs', () => {
    const delay = backoff({ initialMs: 100, factor: 2, maxMs: 5000 });
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7, 8].map(delay),
      [100, 200, 400, 800, 1600, 3200, 5000, 5000],
    );
  });

  test('the cap holds for huge attempt numbers (no overflow to NaN or Infinity)', () => {
    assert.equal(backoff({ initialMs: 500, maxMs: 10_000 })(5000), 10_000);
    assert.equal(backoff({ initialMs: 0, maxMs: 10_000 })(5000), 0);
  });

  test('linear with factor 1 and stepMs (the agent-busy wait: min(5n, 30) s)', () => {
    const delay = backoff({ initialMs: 5000, factor: 1, stepMs: 5000, maxMs: 30_000 });
    for (let n = 1; n <= 10; n++) assert.equal(delay(n), Math.min(5 * n, 30) * 1000);
  });

  test('jitter takes at most its fraction off, never adds', () => {
    const delay = backoff({ initialMs: 1000, maxMs: 1000, jitter: 0.5 });
    const seen = Array.from({ length: 200 }, () => delay(3));
    assert.ok(
      seen.every((ms) => ms >= 500 && ms <= 1000),
      `out of range: ${seen}`,
    );
    assert.ok(new Set(seen).size > 1, 'jitter varied nothing');
  });

  test('attempt 0 or below counts as the first', () => {
    assert.equal(backoff({ initialMs: 100, maxMs: 1000 })(0), 100);
  });

  test('rejects nonsense settings', () => {
    assert.throws(() => backoff({ initialMs: -1, maxMs: 10 }), RangeError);
    assert.throws(() => backoff({ initialMs: 1, maxMs: 10, factor: 0.5 }), RangeError);
    assert.throws(() => backoff({ initialMs: 1, maxMs: 10, jitter: 2 }), RangeError);
  });
});

describe('retry', () => {
  test('retries until success, waiting as delay says, reporting each retry', async () => {
    const retries: [string, number, number][] = [];
    const waits: number[] = [];
    let last = performance.now();
    const result = await retry(
      async (attempt) => {
        const now = performance.now();
        if (attempt > 1) waits.push(now - last);
        last = now;
        if (attempt < 3) throw new Transient(`try ${attempt}`);
        return `done on ${attempt}`;
      },
      {
        attempts: 5,
        delay: (n) => 20 * n,
        onRetry: (err, attempt, ms) => retries.push([(err as Error).message, attempt, ms]),
      },
    );
    assert.equal(result, 'done on 3');
    assert.deepEqual(retries, [
      ['try 1', 1, 20],
      ['try 2', 2, 40],
    ]);
    assert.ok(waits[0]! >= 15 && waits[1]! >= 35, `waited too little: ${waits}`);
  });

  test('spent attempts reject with RetriesExhaustedError carrying the last error', async () => {
    let calls = 0;
    const err = await retry(
      async () => {
        calls++;
        throw new Transient(`failure ${calls}`);
      },
      { attempts: 3, delay: () => 1 },
    ).catch((e: unknown) => e);
    assert.ok(err instanceof RetriesExhaustedError);
    assert.equal(err.code, 'retries_exhausted');
    assert.equal(err.attempts, 3);
    assert.equal((err.lastError as Error).message, 'failure 3');
    assert.equal(err.cause, err.lastError);
    assert.equal(calls, 3);
  });

  test('stops at once on a non-retryable error, rethrowing it as it is', async () => {
    const fatal = new TypeError('bad request');
    let calls = 0;
    let retried = 0;
    await assert.rejects(
      retry(
        async () => {
          calls++;
          throw calls === 1 ? new Transient('blip') : fatal;
        },
        {
          attempts: 10,
          delay: () => 1,
          retryable: (err) => err instanceof Transient,
          onRetry: () => retried++,
        },
      ),
      (err) => err === fatal,
    );
    assert.equal(calls, 2);
    assert.equal(retried, 1);
  });

  test('an abort during the wait ends it with the signal reason, no further attempt', async () => {
    const abort = new AbortController();
    const reason = new Error('shutting down');
    let calls = 0;
    const started = performance.now();
    const running = retry(
      async () => {
        calls++;
        throw new Transient('down');
      },
      { attempts: 5, delay: () => 10_000, signal: abort.signal },
    );
    setTimeout(() => abort.abort(reason), 20);
    await assert.rejects(running, (err) => err === reason);
    assert.equal(calls, 1);
    assert.ok(performance.now() - started < 5000);
  });

  test('an abort during an attempt rejects with the reason, not the attempt error', async () => {
    const abort = new AbortController();
    const reason = new Error('cancelled');
    await assert.rejects(
      retry(
        async () => {
          abort.abort(reason);
          throw new Transient('the request was cut');
        },
        { attempts: 5, delay: () => 1, signal: abort.signal },
      ),
      (err) => err === reason,
    );
    await assert.rejects(
      retry(async () => 'never', { attempts: 1, delay: () => 1, signal: abort.signal }),
      (err) => err === reason,
      'already aborted: no attempt',
    );
  });

  test('one attempt means no retry; fewer is refused', async () => {
    await assert.rejects(
      retry(
        async () => {
          throw new Transient('once');
        },
        { attempts: 1, delay: () => 1 },
      ),
      RetriesExhaustedError,
    );
    await assert.rejects(
      retry(async () => 1, { attempts: 0, delay: () => 1 }),
      RangeError,
    );
  });
});
