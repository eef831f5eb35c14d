import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SourceClient } from '../../../src/agent/download/client.ts';
import { HttpGetError } from '../../../src/agent/download/errors.ts';
import type { SourceResponse } from '../../../src/agent/download/exchange.ts';
import { startBrokenHttpServer } from '../../support/broken-http.ts';

const BODY = randomBytes(8 * 1024 * 1024);
let server: Server;
let base: string;
const client = new SourceClient({ connectionsPerHost: 4 });
const timeouts = { connectTimeoutMs: 2000, idleTimeoutMs: 2000 };

before(async () => {
  // Answers like a mako (Connection: close): the whole response, then FIN at once.
  server = createServer((socket) => {
    socket.once('data', (request) => {
      const path = request.toString('latin1').split(' ')[1];
      if (path === '/silent') return;
      if (path === '/silent-body') {
        // Headers and a first chunk, then nothing: the body stalls.
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nfirst');
        return;
      }
      const body = path === '/small-error' ? Buffer.from('not found') : BODY;
      const status = path === '/small-error' ? '404 Not Found' : '200 OK';
      socket.write(
        `HTTP/1.1 ${status}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
      );
      socket.end(body);
    });
    socket.on('error', () => {
      // The client may reset connections it gave up on; nothing to do here.
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  base = `http://127.0.0.1:${address.port}`;
});
after(async () => {
  client.close();
  await new Promise((resolve) => server.close(resolve));
});

test('a slow consumer gets the whole body although the server closed right after sending', async () => {
  const res = await client.get(`${base}/object`, {
    signal: new AbortController().signal,
    ...timeouts,
  });
  assert.equal(res.status, 200);
  const hash = createHash('md5');
  for await (const chunk of res.body()) {
    hash.update(chunk);
    await sleep(1); // slower than the socket: reading stops while the buffers are in use
    res.release(chunk);
  }
  assert.equal(hash.digest('hex'), createHash('md5').update(BODY).digest('hex'));
});

test('an error body is drained', async () => {
  const res = await client.get(`${base}/small-error`, {
    signal: new AbortController().signal,
    ...timeouts,
  });
  assert.equal(res.status, 404);
  await res.discard();
  assert.equal(res.complete, true);
});

test('a server that says nothing fails with idle_timeout', async () => {
  await assert.rejects(
    client.get(`${base}/silent`, {
      signal: new AbortController().signal,
      connectTimeoutMs: 2000,
      idleTimeoutMs: 100,
    }),
    (err: unknown) => err instanceof HttpGetError && err.code === 'idle_timeout',
  );
});

test('an abort signal ends the request', async () => {
  const controller = new AbortController();
  const pending = client.get(`${base}/silent`, { signal: controller.signal, ...timeouts });
  controller.abort();
  await assert.rejects(
    pending,
    (err: unknown) => err instanceof HttpGetError && err.code === 'aborted',
  );
  await assert.rejects(
    client.get(`${base}/object`, { signal: controller.signal, ...timeouts }),
    (err: unknown) => err instanceof HttpGetError && err.code === 'aborted',
  );
});

test('a refused connection is an HttpGetError, not a hang', async () => {
  await assert.rejects(
    client.get('http://127.0.0.1:1/x', { signal: new AbortController().signal, ...timeouts }),
    (err: unknown) =>
      err instanceof HttpGetError &&
      err.code === 'connection_failed' &&
      (err.cause as NodeJS.ErrnoException).code === 'ECONNREFUSED',
  );
});

/** Reads the whole body; resolves with its size or rejects as responseBody does. */
async function drain(res: SourceResponse): Promise<number> {
  let n = 0;
  for await (const chunk of res.body()) {
    n += chunk.length;
    res.release(chunk);
  }
  return n;
}

test('a body cut off mid-stream throws HttpGetError truncated, never ends as complete', async () => {
  const broken = await startBrokenHttpServer({
    status: '200 OK',
    partialBody: 'x'.repeat(5000),
    contentLength: 1_000_000,
  });
  try {
    const res = await client.get(`${broken.url}/obj`, {
      signal: new AbortController().signal,
      ...timeouts,
    });
    assert.equal(res.status, 200);
    await assert.rejects(drain(res), (err: unknown) => {
      assert.ok(err instanceof HttpGetError, String(err));
      assert.equal(err.code, 'truncated');
      assert.match(err.message, /connection lost after 5000 body bytes of 1000000/);
      return true;
    });
    assert.equal(res.complete, false);
  } finally {
    await broken.close();
  }
});

test('a body read only after its connection was lost fails as truncated, never hangs', async () => {
  const broken = await startBrokenHttpServer({
    status: '200 OK',
    partialBody: 'x'.repeat(300),
    contentLength: 601,
  });
  try {
    const res = await client.get(`${broken.url}/obj`, {
      signal: new AbortController().signal,
      ...timeouts,
    });
    // The agent opens its temp file between the headers and the body: the cut happens then.
    await sleep(200);
    const read = drain(res);
    const hung = sleep(3000).then(() => 'hung');
    const outcome = await Promise.race([
      read.then(
        () => 'complete',
        (err: unknown) => err,
      ),
      hung,
    ]);
    assert.ok(outcome instanceof HttpGetError, `the body ended: ${String(outcome)}`);
    assert.equal(outcome.code, 'truncated');
  } finally {
    await broken.close();
  }
});

test('cut off inside the headers is HttpGetError connection_failed', async () => {
  const broken = await startBrokenHttpServer({ cutInHeaders: true });
  try {
    await assert.rejects(
      client.get(`${broken.url}/obj`, { signal: new AbortController().signal, ...timeouts }),
      (err: unknown) => err instanceof HttpGetError && err.code === 'connection_failed',
    );
  } finally {
    await broken.close();
  }
});

test('an idle timeout or an abort during the body keeps its own code', async () => {
  const started = await client.get(`${base}/silent-body`, {
    signal: new AbortController().signal,
    connectTimeoutMs: 2000,
    idleTimeoutMs: 100,
  });
  await assert.rejects(
    drain(started),
    (err: unknown) => err instanceof HttpGetError && err.code === 'idle_timeout',
  );
  const controller = new AbortController();
  const res = await client.get(`${base}/silent-body`, {
    signal: controller.signal,
    ...timeouts,
  });
  setTimeout(() => controller.abort(), 20);
  await assert.rejects(
    drain(res),
    (err: unknown) => err instanceof HttpGetError && err.code === 'aborted',
  );
});
