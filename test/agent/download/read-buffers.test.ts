import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ConnectionBuffers,
  MAX_BUFFERS_PER_CONNECTION,
  READ_BUFFER_BYTES,
  ReadBufferPool,
} from '../../../src/agent/download/read-buffers.ts';

/** Simulates a read of `n` bytes into the target, pinning all of them as one view. */
function read(buffers: ConnectionBuffers, n: number, pin = true): { view: Buffer; more: boolean } {
  const target = buffers.target();
  assert.ok(target.length >= n);
  const { buf, start } = buffers.landed(n);
  assert.equal(buf.buffer, target.buffer);
  const view = buf.subarray(start, start + n);
  if (pin) buffers.pin(view);
  return { view, more: buffers.rotate() };
}

describe('read buffers', () => {
  test('an unpinned buffer is read into again from its start; no buffer is allocated per read', () => {
    const pool = new ReadBufferPool(8);
    const buffers = new ConnectionBuffers(pool);
    const first = buffers.target();
    for (let i = 0; i < 100; i++) {
      read(buffers, 1000, false);
      assert.equal(buffers.target().buffer, first.buffer);
      assert.equal(buffers.target().length, READ_BUFFER_BYTES);
    }
  });

  test('small reads pack into the free tail of a pinned buffer, then move on to another', () => {
    const buffers = new ConnectionBuffers(new ReadBufferPool(8));
    const first = buffers.target().buffer;
    const views: Buffer[] = [];
    for (let i = 0; i < 7; i++) views.push(read(buffers, 8 * 1024).view);
    assert.equal(buffers.held, 1, '8 KiB are left: the next read still goes here');
    views.push(read(buffers, 8 * 1024).view);
    assert.ok(
      views.every((v) => v.buffer === first),
      'eight 8 KiB reads share one buffer',
    );
    assert.equal(buffers.held, 2, 'the buffer is full: the next read goes elsewhere');
    assert.notEqual(buffers.target().buffer, first);
    for (const v of views.slice(1)) assert.equal(buffers.release(v), false, 'still pinned');
    assert.equal(buffers.held, 2, 'the first buffer is pinned until its last view goes');
    buffers.release(views[0]!);
    assert.equal(buffers.held, 1);
  });

  test('a pinned buffer is never a read target, and reading stops at the maximum held', () => {
    const pool = new ReadBufferPool(64);
    const buffers = new ConnectionBuffers(pool);
    const pinned: Buffer[] = [];
    let more = true;
    while (more) {
      const r = read(buffers, READ_BUFFER_BYTES);
      pinned.push(r.view);
      more = r.more;
      for (const v of pinned) assert.notEqual(buffers.target().buffer, v.buffer);
    }
    assert.equal(buffers.held, MAX_BUFFERS_PER_CONNECTION);
    assert.equal(pinned.length, MAX_BUFFERS_PER_CONNECTION - 1);
    assert.equal(buffers.release(pinned.shift()!), true, 'one released: room to read again');
    assert.equal(pool.size, 1, 'the released buffer is back in the pool');
  });

  test('closing gives the unpinned buffers back; pinned ones go back when released', () => {
    const pool = new ReadBufferPool(64);
    const buffers = new ConnectionBuffers(pool);
    const { view } = read(buffers, 100);
    buffers.close();
    assert.equal(pool.size, 0, 'the read target was pinned: not given back yet');
    buffers.release(view);
    assert.equal(pool.size, 1);
    const other = new ConnectionBuffers(pool);
    assert.equal(other.target().buffer, view.buffer, 'and it is reused');
    assert.throws(() => other.release(view), /not pinned/);
  });

  test('the pool keeps at most its limit of free buffers', () => {
    const pool = new ReadBufferPool(2);
    for (let i = 0; i < 5; i++) pool.give(Buffer.allocUnsafeSlow(READ_BUFFER_BYTES));
    assert.equal(pool.size, 2);
  });
});
