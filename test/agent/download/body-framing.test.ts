import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type BodyDecoder, bodyDecoder } from '../../../src/agent/download/body-framing.ts';
import { HttpGetError } from '../../../src/agent/download/errors.ts';

/** Feeds `wire` to the decoder `step` bytes at a time; returns the body and what was left. */
function decode(decoder: BodyDecoder, wire: Buffer, step: number): { body: Buffer; rest: number } {
  const parts: Buffer[] = [];
  let at = 0;
  while (at < wire.length && !decoder.done) {
    const end = Math.min(wire.length, at + step);
    const used = decoder.feed(wire, at, end, (view) => {
      assert.equal(view.buffer, wire.buffer, 'a view of the bytes fed, never a copy');
      parts.push(Buffer.from(view));
    });
    assert.ok(used <= end - at);
    if (used < end - at) assert.ok(decoder.done, 'bytes are left only once the body is done');
    at += used;
  }
  return { body: Buffer.concat(parts), rest: wire.length - at };
}

const bad = (err: unknown) => err instanceof HttpGetError && err.code === 'bad_response';

describe('body framing', () => {
  test('length: exactly the announced bytes, the rest left over, whole only at the length', () => {
    const wire = Buffer.from('hello world; and the next response');
    for (const step of [1, 3, 100]) {
      const decoder = bodyDecoder({ kind: 'length', length: 11 });
      const { body, rest } = decode(decoder, wire, step);
      assert.equal(body.toString(), 'hello world');
      assert.equal(rest, wire.length - 11);
      assert.equal(decoder.endOfInput(), true);
    }
    const short = bodyDecoder({ kind: 'length', length: 100 });
    decode(short, Buffer.from('abc'), 10);
    assert.equal(short.received, 3);
    assert.equal(short.endOfInput(), false, 'an end before the length is a cut');
  });

  test('close: everything until the end of input', () => {
    const decoder = bodyDecoder({ kind: 'close' });
    assert.equal(decode(decoder, Buffer.from('all of it'), 4).body.toString(), 'all of it');
    assert.equal(decoder.done, false);
    assert.equal(decoder.endOfInput(), true);
    assert.equal(decoder.done, true);
  });

  test('chunked: sizes, extensions and trailers, split at every byte', () => {
    const wire = Buffer.from(
      '5\r\nhello\r\n1;name=value\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\nNEXT',
    );
    for (const step of [1, 2, 7, 1000]) {
      const decoder = bodyDecoder({ kind: 'chunked' });
      const { body, rest } = decode(decoder, wire, step);
      assert.equal(body.toString(), 'hello 0123456789', `step ${step}`);
      assert.equal(rest, 4, `step ${step}`);
      assert.equal(decoder.received, 16);
      assert.equal(decoder.endOfInput(), true);
    }
  });

  test('chunked: an end before the last chunk is a cut', () => {
    const decoder = bodyDecoder({ kind: 'chunked' });
    decode(decoder, Buffer.from('5\r\nhel'), 100);
    assert.equal(decoder.endOfInput(), false);
  });

  for (const [what, wire] of [
    ['a size that is not hex', 'zz\r\n'],
    ['a size line with a bare LF', '5\nhello\r\n'],
    ['data longer than its size', '2\r\nabc\r\n'],
    ['a size too large', `${'f'.repeat(14)}\r\n`],
    ['a size line without end', `5${' '.repeat(2000)}`],
    ['trailers without end', `0\r\n${'X-A: 1\r\n'.repeat(3000)}`],
  ] as const) {
    test(`chunked: refuses ${what}`, () => {
      assert.throws(() => decode(bodyDecoder({ kind: 'chunked' }), Buffer.from(wire), 3), bad);
    });
  }
});
