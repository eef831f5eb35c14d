/**
 * The client's connections over real sockets: kept alive where the source allows, bounded per
 * source, a stale kept-alive connection retried once, and bodies delivered intact whatever
 * the reads' sizes and the consumer's pace.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SourceClient } from '../../../src/agent/download/client.ts';
import { HttpGetError } from '../../../src/agent/download/errors.ts';
import type { SourceResponse } from '../../../src/agent/download/exchange.ts';

const options = () => ({
  signal: new AbortController().signal,
  connectTimeoutMs: 2000,
  idleTimeoutMs: 2000,
});

interface RawServer {
  readonly url: string;
  /** Connections accepted so far. */
  connections: number;
  close(): Promise<void>;
}

const servers: RawServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

/** A raw HTTP server: `respond` writes the whole response to each request's socket. */
async function rawServer(
  respond: (socket: Socket, path: string, n: number) => void,
): Promise<RawServer> {
  const sockets = new Set<Socket>();
  const state = { connections: 0 };
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    state.connections++;
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let pending = '';
    let n = 0;
    socket.on('data', (chunk) => {
      pending += chunk.toString('latin1');
      for (let end = pending.indexOf('\r\n\r\n'); end !== -1; end = pending.indexOf('\r\n\r\n')) {
        const path = pending.slice(0, pending.indexOf('\r\n')).split(' ')[1]!;
        pending = pending.slice(end + 4);
        respond(socket, path, n++);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const raw: RawServer = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get connections() {
      return state.connections;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  servers.push(raw);
  return raw;
}

async function bodyOf(res: SourceResponse, pauseMs = 0): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const view of res.body()) {
    parts.push(Buffer.from(view));
    if (pauseMs > 0) await sleep(pauseMs);
    res.release(view);
  }
  return Buffer.concat(parts);
}

test('a source that keeps connections alive serves every GET on one connection', async () => {
  const server = await rawServer((socket, path) => {
    socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${path.length}\r\n\r\n${path}`);
  });
  const client = new SourceClient({ connectionsPerHost: 4 });
  try {
    for (let i = 0; i < 20; i++) {
      const res = await client.get(`${server.url}/object-${i}`, options());
      assert.equal((await bodyOf(res)).toString(), `/object-${i}`);
    }
    assert.equal(server.connections, 1);
  } finally {
    client.close();
  }
});

test('connections per source are bounded; GETs beyond wait for one', async () => {
  let inFlight = 0;
  let peak = 0;
  const server = await rawServer((socket, path) => {
    peak = Math.max(peak, ++inFlight);
    setTimeout(() => {
      inFlight--;
      socket.end(
        `HTTP/1.1 200 OK\r\nContent-Length: ${path.length}\r\nConnection: close\r\n\r\n${path}`,
      );
    }, 20);
  });
  const client = new SourceClient({ connectionsPerHost: 3 });
  try {
    const bodies = await Promise.all(
      Array.from({ length: 12 }, async (_, i) => {
        const res = await client.get(`${server.url}/o${i}`, options());
        return (await bodyOf(res)).toString();
      }),
    );
    assert.deepEqual(
      bodies,
      Array.from({ length: 12 }, (_, i) => `/o${i}`),
    );
    assert.equal(server.connections, 12, 'Connection: close is honoured');
    assert.equal(peak, 3, 'three requests at once, never more');
  } finally {
    client.close();
  }
});

test('a kept-alive connection the source closed meanwhile is retried once on a new one', async () => {
  const server = await rawServer((socket, path, n) => {
    // The second request on a connection finds it closed, as after a keep-alive timeout.
    if (n === 1) {
      socket.destroy();
      return;
    }
    socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${path.length}\r\n\r\n${path}`);
  });
  const client = new SourceClient({ connectionsPerHost: 1 });
  try {
    assert.equal((await bodyOf(await client.get(`${server.url}/a`, options()))).toString(), '/a');
    assert.equal((await bodyOf(await client.get(`${server.url}/b`, options()))).toString(), '/b');
    assert.equal(server.connections, 2);
  } finally {
    client.close();
  }
});

test('bytes beyond a body, or before any request, end the connection instead of framing another', async () => {
  const server = await rawServer((socket, path) => {
    socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${path.length}\r\n\r\n${path}GARBAGE`);
  });
  const client = new SourceClient({ connectionsPerHost: 1 });
  try {
    for (const path of ['/x', '/y', '/z']) {
      assert.equal(
        (await bodyOf(await client.get(`${server.url}${path}`, options()))).toString(),
        path,
      );
    }
    assert.equal(server.connections, 3);
  } finally {
    client.close();
  }
});

test('bodies arrive intact through trickled reads, chunked framing and a slow consumer', async () => {
  const body = randomBytes(3 * 1024 * 1024 + 17);
  const md5 = createHash('md5').update(body).digest('hex');
  const server = await rawServer((socket, path) => {
    void (async () => {
      if (path === '/chunked') {
        socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
        for (let at = 0; at < body.length; ) {
          const n = Math.min(body.length - at, 1 + Math.floor(Math.random() * 40_000));
          socket.write(`${n.toString(16)}\r\n`);
          socket.write(body.subarray(at, at + n));
          socket.write('\r\n');
          at += n;
          if (Math.random() < 0.1) await sleep(1);
        }
        socket.write('0\r\n\r\n');
        return;
      }
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
      // Odd-sized writes with pauses: reads of every size, packed into shared buffers.
      for (let at = 0; at < body.length; ) {
        const n = Math.min(body.length - at, 1 + Math.floor(Math.random() * 20_000));
        socket.write(body.subarray(at, at + n));
        at += n;
        if (Math.random() < 0.05) await sleep(1);
      }
    })();
  });
  const client = new SourceClient({ connectionsPerHost: 2 });
  try {
    for (const path of ['/length', '/chunked']) {
      const results = await Promise.all(
        [0, 1, 0].map(async (pauseMs) => {
          const res = await client.get(`${server.url}${path}`, options());
          return createHash('md5')
            .update(await bodyOf(res, pauseMs))
            .digest('hex');
        }),
      );
      assert.deepEqual(results, [md5, md5, md5], path);
    }
  } finally {
    client.close();
  }
});

test('a hostile or broken head fails as bad_response and the connection is not used again', async () => {
  const heads: Record<string, string> = {
    '/huge': `HTTP/1.1 200 OK\r\nX-Pad: ${'a'.repeat(20_000)}\r\n\r\n`,
    '/endless': `HTTP/1.1 200 OK\r\n${'X-A: 1\r\n'.repeat(5000)}`,
    '/status': 'HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n',
    '/smuggle': 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab',
    '/chunk': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nnothex\r\n',
  };
  const server = await rawServer((socket, path) => socket.write(heads[path] ?? ''));
  const client = new SourceClient({ connectionsPerHost: 1 });
  try {
    for (const path of Object.keys(heads)) {
      const read = client.get(`${server.url}${path}`, options()).then((res) => bodyOf(res));
      await assert.rejects(read, (err: unknown) => {
        assert.ok(err instanceof HttpGetError, `${path}: ${String(err)}`);
        assert.equal(err.code, 'bad_response', path);
        return true;
      });
    }
    assert.equal(server.connections, Object.keys(heads).length);
  } finally {
    client.close();
  }
});

test('a whole body given up unread returns its buffers: the kept-alive connection goes on', async () => {
  const body = randomBytes(300 * 1024);
  const server = await rawServer((socket) => {
    socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
    socket.write(body);
  });
  const client = new SourceClient({ connectionsPerHost: 1 });
  try {
    for (let i = 0; i < 6; i++) {
      const res = await client.get(`${server.url}/unread`, options());
      const deadline = Date.now() + 5000;
      while (!res.complete) {
        assert.ok(Date.now() < deadline, `GET ${i + 1}: the body never arrived whole`);
        await sleep(5);
      }
      res.destroy();
    }
    const res = await client.get(`${server.url}/read`, options());
    assert.ok((await bodyOf(res)).equals(body));
    assert.equal(server.connections, 1);
  } finally {
    client.close();
  }
});
