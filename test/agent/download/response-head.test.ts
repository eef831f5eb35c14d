import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HttpGetError } from '../../../src/agent/download/errors.ts';
import { parseResponseHead } from '../../../src/agent/download/response-head.ts';

const bad = (err: unknown) => err instanceof HttpGetError && err.code === 'bad_response';

describe('parseResponseHead', () => {
  test('a mako 200: status, length, headers in lower case, not kept alive', () => {
    const head = parseResponseHead(
      'HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 1234\r\nConnection: close',
    );
    assert.equal(head.status, 200);
    assert.deepEqual(head.framing, { kind: 'length', length: 1234 });
    assert.equal(head.keepAlive, false);
    assert.equal(head.headers.get('server'), 'nginx');
  });

  test('keep-alive: HTTP/1.1 by default, HTTP/1.0 only when asked, never without framing', () => {
    assert.equal(parseResponseHead('HTTP/1.1 200 OK\r\nContent-Length: 1').keepAlive, true);
    assert.equal(parseResponseHead('HTTP/1.0 200 OK\r\nContent-Length: 1').keepAlive, false);
    const ka = 'HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: Keep-Alive';
    assert.equal(parseResponseHead(ka).keepAlive, true);
    const close = parseResponseHead('HTTP/1.1 200 OK');
    assert.deepEqual(close.framing, { kind: 'close' });
    assert.equal(close.keepAlive, false);
  });

  test('chunked framing; with a Content-Length beside it the connection is not reused', () => {
    const chunked = parseResponseHead('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked');
    assert.deepEqual(chunked.framing, { kind: 'chunked' });
    assert.equal(chunked.keepAlive, true);
    const both = parseResponseHead(
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5',
    );
    assert.deepEqual(both.framing, { kind: 'chunked' });
    assert.equal(both.keepAlive, false);
  });

  test('204, 304 and interim responses have no body; a reason phrase is optional', () => {
    assert.deepEqual(parseResponseHead('HTTP/1.1 204 No Content').framing, {
      kind: 'length',
      length: 0,
    });
    assert.deepEqual(parseResponseHead('HTTP/1.1 304').framing, { kind: 'length', length: 0 });
    assert.equal(parseResponseHead('HTTP/1.1 100 Continue').status, 100);
  });

  test('repeated identical Content-Lengths are one; differing ones are refused', () => {
    const same = parseResponseHead('HTTP/1.1 200 OK\r\nContent-Length: 7\r\nContent-Length: 7');
    assert.deepEqual(same.framing, { kind: 'length', length: 7 });
    assert.throws(
      () => parseResponseHead('HTTP/1.1 200 OK\r\nContent-Length: 7\r\nContent-Length: 8'),
      bad,
    );
  });

  for (const [what, text] of [
    ['a status line that is not HTTP/1.x', 'HTTP/2 200 OK'],
    ['a three-digit status it is not', 'HTTP/1.1 20 OK'],
    ['a bare LF inside the head', 'HTTP/1.1 200 OK\nContent-Length: 1'],
    ['a header without a colon', 'HTTP/1.1 200 OK\r\nContent-Length 1'],
    ['a space before the colon', 'HTTP/1.1 200 OK\r\nContent-Length : 1'],
    ['obsolete line folding', 'HTTP/1.1 200 OK\r\nX-A: 1\r\n  2'],
    ['a NUL in a value', 'HTTP/1.1 200 OK\r\nX-A: a\u0000b'],
    ['a negative length', 'HTTP/1.1 200 OK\r\nContent-Length: -1'],
    ['a length with a sign', 'HTTP/1.1 200 OK\r\nContent-Length: +1'],
    ['a huge length', 'HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999'],
    ['a transfer coding other than chunked', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip'],
    ['chunked not last', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip'],
    ['101 to a GET', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c'],
    ['too many headers', `HTTP/1.1 200 OK${'\r\nX-A: 1'.repeat(101)}`],
  ] as const) {
    test(`refuses ${what} as bad_response`, () => {
      assert.throws(() => parseResponseHead(text), bad);
    });
  }
});
