import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  FAST_MSGID_MAX,
  FastClient,
  type FastClientOptions,
  FastConnectionError,
  FastProtocolError,
  FastServer,
  FastServerError,
  FastStatus,
  FastTimeoutError,
  MsgidAllocator,
  RpcError,
} from '../../src/fast/index.ts';
import { frame, type Gate, gate, log, RawPeer, rawServer } from './helpers.ts';

function client(port: number, opts: Partial<FastClientOptions> = {}): FastClient {
  return new FastClient({ host: '127.0.0.1', port, log, ...opts });
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof Error);
    return err;
  }
  assert.fail('expected a rejection');
}

describe('FastServer ↔ FastClient', () => {
  const server = new FastServer({ log });
  let port = 0;
  const seenMsgids: number[] = [];
  const gates = new Map<string, Gate>();

  before(async () => {
    server.register('echo', async (rpc) => {
      seenMsgids.push(rpc.msgid);
      for (const arg of rpc.args) await rpc.write(arg);
    });
    server.register('count', async (rpc) => {
      const n = rpc.args[0] as number;
      for (let i = 0; i < n; i++) await rpc.write({ i });
    });
    server.register('fail', async (rpc) => {
      await rpc.write('partial');
      throw new RpcError('EtagConflictError', 'manta::/k was expected to have etag "A"', {
        context: { bucket: 'manta', key: '/k', expected: 'A', actual: 'B' },
      });
    });
    server.register('failPlain', async () => {
      const err = new RangeError('plain failure') as RangeError & { context: unknown };
      err.context = { why: 'because' };
      throw err;
    });
    server.register('held', async (rpc) => {
      seenMsgids.push(rpc.msgid);
      const g = gates.get(rpc.args[0] as string);
      assert.ok(g);
      await g.wait;
      await rpc.write('late');
    });
    server.register('trickle', async (rpc) => {
      const [n, ms] = rpc.args as [number, number];
      for (let i = 0; i < n; i++) {
        await new Promise((resolve) => setTimeout(resolve, ms));
        await rpc.write({ i });
      }
    });
    server.register('delay', async (rpc) => {
      const [value, ms] = rpc.args as [unknown, number];
      await new Promise((resolve) => setTimeout(resolve, ms));
      await rpc.write(value);
    });
    ({ port } = await server.listen(0));
  });

  after(() => server.close());

  test('streams many values in order', async () => {
    const c = client(port);
    try {
      const values: unknown[] = [];
      for await (const v of c.request('count', [5000])) values.push(v);
      assert.equal(values.length, 5000);
      assert.deepEqual(values[4999], { i: 4999 });
      assert.ok(values.every((v, i) => (v as { i: number }).i === i));
      assert.deepEqual(await c.call('echo', []), []);
    } finally {
      await c.close();
    }
  });

  test('server errors keep name, message, context and info; DATA before them is delivered', async () => {
    const c = client(port);
    try {
      const got: unknown[] = [];
      const err = await rejection(
        (async () => {
          for await (const v of c.request('fail', [])) got.push(v);
        })(),
      );
      assert.deepEqual(got, ['partial']);
      assert.ok(err instanceof FastServerError);
      assert.equal(err.name, 'EtagConflictError');
      assert.equal(err.message, 'manta::/k was expected to have etag "A"');
      assert.deepEqual(err.context, { bucket: 'manta', key: '/k', expected: 'A', actual: 'B' });
      assert.deepEqual(err.info, {});
      assert.equal(err.method, 'fail');

      const plain = await rejection(c.call('failPlain', []));
      assert.ok(plain instanceof FastServerError);
      assert.equal(plain.name, 'RangeError');
      assert.deepEqual(plain.context, { why: 'because' });

      const bad = await rejection(c.call('nosuch', []));
      assert.ok(bad instanceof FastServerError);
      assert.equal(bad.name, 'FastError');
      assert.equal(bad.message, 'unsupported RPC method: "nosuch"');
      assert.equal(bad.info.fastReason, 'bad_method');
      assert.equal(bad.info.rpcMethod, 'nosuch');
      assert.equal(typeof bad.info.rpcMsgid, 'number');
      // The connection survives RPC errors.
      assert.deepEqual(await c.call('echo', [1]), [1]);
    } finally {
      await c.close();
    }
  });

  test('timeout abandons locally: late frames dropped, msgid reserved until END', async () => {
    const c = client(port);
    const g = gate();
    gates.set('t1', g);
    try {
      await c.connect();
      seenMsgids.length = 0;
      const err = await rejection(c.call('held', ['t1'], { timeoutMs: 20 }));
      assert.ok(err instanceof FastTimeoutError);
      assert.equal(c.abandoned, 1);
      assert.equal(c.pending, 0);
      const heldId = seenMsgids[0];
      // Other requests proceed and get other msgids while the abandoned one is reserved.
      assert.deepEqual(await c.call('echo', ['x']), ['x']);
      assert.notEqual(seenMsgids[1], heldId);
      g.open();
      // The late DATA and the END arrive: dropped without harming the connection.
      for (let i = 0; i < 100 && c.abandoned > 0; i++) await c.call('echo', []);
      assert.equal(c.abandoned, 0);
      assert.ok(c.connected);
      assert.deepEqual(await c.call('echo', ['still alive']), ['still alive']);
    } finally {
      gates.delete('t1');
      await c.close();
    }
  });

  test('the timeout is of silence: a long stream that keeps coming completes', async () => {
    const c = client(port, { requestTimeoutMs: 300 });
    try {
      // 12 values 50 ms apart: 600 ms in all, twice the timeout, never 300 ms of silence.
      const values = await c.call('trickle', [12, 50]);
      assert.equal(values.length, 12);
      const err = await rejection(c.call('delay', ['late', 1_000]));
      assert.ok(err instanceof FastTimeoutError);
      assert.match(err.message, /nothing received for 300 ms/);
    } finally {
      await c.close();
    }
  });

  test('a consumer that stops early abandons the request without breaking the connection', async () => {
    const c = client(port);
    try {
      for await (const v of c.request('count', [100])) {
        assert.deepEqual(v, { i: 0 });
        break;
      }
      assert.deepEqual(await c.call('echo', ['next']), ['next']);
      const ac = new AbortController();
      const g = gate();
      gates.set('abort', g);
      const pending = c.call('held', ['abort'], {});
      const aborted = rejection(
        (async () => {
          for await (const _ of c.request('held', ['abort'], { signal: ac.signal })) {
            assert.fail('no value expected');
          }
        })(),
      );
      ac.abort(new Error('caller gave up'));
      assert.equal((await aborted).message, 'caller gave up');
      g.open();
      assert.deepEqual(await pending, ['late']);
      gates.delete('abort');
    } finally {
      await c.close();
    }
  });

  test('many concurrent requests are matched by msgid', async () => {
    const c = client(port);
    try {
      const calls = Array.from({ length: 500 }, (_, i) =>
        c.call('delay', [{ i, s: 'é😀'.repeat(i % 7) }, i % 5]),
      );
      const results = await Promise.all(calls);
      results.forEach((r, i) => {
        assert.deepEqual(r, [{ i, s: 'é😀'.repeat(i % 7) }]);
      });
      assert.equal(c.pending, 0);
    } finally {
      await c.close();
    }
  });

  test('msgids wrap from 2^31-1 to 1', async () => {
    const c = client(port, { firstMsgid: FAST_MSGID_MAX - 1 });
    try {
      await c.connect();
      seenMsgids.length = 0;
      for (let i = 0; i < 4; i++) await c.call('echo', [i]);
      assert.deepEqual(seenMsgids, [FAST_MSGID_MAX - 1, FAST_MSGID_MAX, 1, 2]);
    } finally {
      await c.close();
    }
  });

  test('v1 client requests are answered in v1', async () => {
    const c = client(port, { version: 1 });
    try {
      assert.deepEqual(await c.call('echo', ['café ☃ 😀']), ['café ☃ 😀']);
    } finally {
      await c.close();
    }
  });

  test('backpressure: a slow consumer pauses the socket and the server handler waits', async () => {
    const total = 20_000;
    let written = 0;
    let finished = false;
    const big = 'x'.repeat(1000);
    server.register('flood', async (rpc) => {
      for (let i = 0; i < total; i++) {
        await rpc.write({ i, big });
        written++;
      }
      finished = true;
    });
    const c = client(port, { maxBufferedValues: 16 });
    try {
      const it = c.request('flood', [])[Symbol.asyncIterator]();
      assert.deepEqual((await it.next()).value, { i: 0, big });
      // Wait until the server stops making progress (or finishes, which means no backpressure).
      let last = -1;
      while (!finished && written !== last) {
        last = written;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal(finished, false, 'the handler wrote 20 MB to a stalled consumer');
      assert.ok(written < total);
      let n = 1;
      for (let r = await it.next(); !r.done; r = await it.next()) {
        assert.equal((r.value as { i: number }).i, n++);
      }
      assert.equal(n, total);
      assert.ok(finished);
    } finally {
      await c.close();
    }
  });
});

describe('allocator', () => {
  test('skips reserved ids and wraps to 1', () => {
    const a = new MsgidAllocator(3, 5);
    const reserved = new Set([4, 1]);
    const taken = (id: number): boolean => reserved.has(id);
    assert.deepEqual([a.allocate(taken), a.allocate(taken), a.allocate(taken)], [3, 5, 2]);
    assert.equal(
      new MsgidAllocator(1, 2).allocate(() => true),
      undefined,
    );
    assert.throws(() => new MsgidAllocator(0), RangeError);
  });
});

describe('server protocol handling over raw sockets', () => {
  const server = new FastServer({ log, maxMessageSize: 4096 });
  let port = 0;
  const release = gate();

  before(async () => {
    server.register('echo', async (rpc) => {
      for (const arg of rpc.args) await rpc.write(arg);
    });
    server.register('held', async (rpc) => {
      await release.wait;
      await rpc.write('done');
    });
    ({ port } = await server.listen(0));
  });

  after(async () => {
    release.open();
    await server.close();
  });

  test('msgid 0 is accepted and may be reused once complete', async () => {
    const peer = await RawPeer.connect(port);
    for (const value of ['a', 'b']) {
      peer.send(frame(FastStatus.Data, 0, 'echo', [value]));
      const data = await peer.next();
      assert.equal(data?.status, FastStatus.Data);
      assert.equal(data?.msgid, 0);
      assert.deepEqual(data?.data.d, [value]);
      assert.equal(data?.data.m.name, 'echo');
      assert.ok(Number.isInteger(data?.data.m.uts));
      const end = await peer.next();
      assert.equal(end?.status, FastStatus.End);
      assert.deepEqual(end?.data.d, []);
    }
    await peer.destroy();
  });

  test('answers each request in its own version', async () => {
    const peer = await RawPeer.connect(port);
    peer.send(frame(FastStatus.Data, 1, 'echo', ['é'], 1));
    peer.send(frame(FastStatus.Data, 2, 'echo', ['é'], 2));
    const got = [await peer.next(), await peer.next(), await peer.next(), await peer.next()];
    for (const msg of got) assert.equal(msg?.version, msg?.msgid);
    await peer.destroy();
  });

  test('bad_data for a request without m.name (answered with m.name null)', async () => {
    const peer = await RawPeer.connect(port);
    peer.send(frame(FastStatus.Data, 5, null, [1]));
    const msg = await peer.next();
    assert.equal(msg?.status, FastStatus.Error);
    assert.equal(msg?.data.m.name, null);
    const d = msg?.data.d as { name: string; message: string; info: Record<string, unknown> };
    assert.equal(d.name, 'FastError');
    assert.equal(d.message, 'RPC request is not well-formed');
    assert.equal(d.info.fastReason, 'bad_data');
    assert.equal(d.info.rpcMsgid, 5);
    // The connection stays up.
    peer.send(frame(FastStatus.Data, 6, 'echo', [1]));
    assert.equal((await peer.next())?.msgid, 6);
    await peer.destroy();
  });

  test('a malformed frame closes only that connection', async () => {
    const other = client(port);
    try {
      await other.connect();
      const peer = await RawPeer.connect(port);
      const bad = frame(FastStatus.Data, 1, 'echo', [1]);
      bad[0] = 9;
      peer.send(bad);
      await peer.closed;
      assert.deepEqual(await other.call('echo', ['fine']), ['fine']);
    } finally {
      await other.close();
    }
  });

  test('a duplicate pending msgid, or a client END, closes the connection', async () => {
    /** The server closes `peer` within `ms` without answering anything on it. */
    async function closedUnanswered(peer: RawPeer, ms = 2000): Promise<void> {
      let timer: NodeJS.Timeout | undefined;
      const closed = await Promise.race([
        peer.closed.then(() => true),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), ms);
        }),
      ]);
      clearTimeout(timer);
      if (!closed) await peer.destroy();
      assert.ok(closed, `the server kept the connection open for ${ms} ms`);
      assert.equal(await peer.next(), undefined, 'the server answered before closing');
    }
    const dup = await RawPeer.connect(port);
    dup.send(frame(FastStatus.Data, 3, 'held', []));
    dup.send(frame(FastStatus.Data, 3, 'held', []));
    await closedUnanswered(dup);
    const end = await RawPeer.connect(port);
    end.send(frame(FastStatus.End, 3, 'echo', []));
    await closedUnanswered(end);
  });

  test('client ERROR frames are ignored', async () => {
    const peer = await RawPeer.connect(port);
    peer.send(frame(FastStatus.Error, 8, 'echo', { name: 'E', message: 'cancel' }));
    peer.send(frame(FastStatus.Data, 9, 'echo', ['ok']));
    const msg = await peer.next();
    assert.equal(msg?.msgid, 9);
    await peer.destroy();
  });

  test('max message size: the server drops a connection that sends a bigger request', async () => {
    const c = client(port);
    try {
      const err = await rejection(c.call('echo', ['x'.repeat(5000)]));
      assert.ok(err instanceof FastConnectionError);
    } finally {
      await c.close();
    }
    const small = client(port, { maxMessageSize: 100 });
    try {
      const err = await rejection(small.call('echo', ['x'.repeat(200)]));
      assert.ok(err instanceof FastProtocolError);
      assert.equal(err.reason, 'message_too_large');
    } finally {
      await small.close();
    }
  });

  test('a request sent then half-closed is still answered', async () => {
    const peer = await RawPeer.connect(port);
    peer.send(frame(FastStatus.Data, 1, 'echo', ['half']));
    peer.socket.end();
    assert.deepEqual((await peer.next())?.data.d, ['half']);
    assert.equal((await peer.next())?.status, FastStatus.End);
    await peer.closed;
  });
});

describe('client protocol handling against a raw server', () => {
  test('null values fail the request unless ignoreNullValues; END values are data', async () => {
    const srv = await rawServer((peer) => {
      void (async () => {
        for (let msg = await peer.next(); msg; msg = await peer.next()) {
          peer.send(frame(FastStatus.Data, msg.msgid, msg.data.m.name, [1, null]));
          peer.send(frame(FastStatus.End, msg.msgid, msg.data.m.name, [2]));
        }
      })();
    });
    const c = client(srv.port);
    try {
      assert.deepEqual(await c.call('x', [], { ignoreNullValues: true }), [1, 2]);
      const err = await rejection(c.call('x', []));
      assert.ok(err instanceof FastProtocolError);
      assert.equal(err.reason, 'null_value');
      assert.deepEqual(await c.call('x', [], { ignoreNullValues: true }), [1, 2]);
    } finally {
      await c.close();
      await srv.close();
    }
  });

  test('an unknown msgid is fatal for the connection', async () => {
    const srv = await rawServer((peer) => {
      void (async () => {
        const msg = await peer.next();
        if (msg) peer.send(frame(FastStatus.End, msg.msgid + 1, 'x', []));
      })();
    });
    const c = client(srv.port, { reconnect: false });
    try {
      const err = await rejection(c.call('x', []));
      assert.ok(err instanceof FastConnectionError);
      assert.ok(err.cause instanceof FastProtocolError);
      assert.equal(err.cause.reason, 'unknown_msgid');
      assert.equal(c.connected, false);
    } finally {
      await c.close();
      await srv.close();
    }
  });

  test('a bigger response than maxMessageSize is a protocol error', async () => {
    const srv = await rawServer((peer) => {
      void (async () => {
        const msg = await peer.next();
        if (msg) peer.send(frame(FastStatus.Data, msg.msgid, 'x', ['y'.repeat(500)]));
      })();
    });
    const c = client(srv.port, { maxMessageSize: 200 });
    try {
      const err = await rejection(c.call('x', []));
      assert.ok(err instanceof FastConnectionError);
      assert.ok(err.cause instanceof FastProtocolError);
      assert.equal(err.cause.reason, 'message_too_large');
    } finally {
      await c.close();
      await srv.close();
    }
  });

  test('connection loss mid-stream fails every pending request', async () => {
    const srv = await rawServer((peer) => {
      void (async () => {
        const first = await peer.next();
        const second = await peer.next();
        if (!first || !second) return;
        peer.send(frame(FastStatus.Data, first.msgid, 'x', ['v1']));
        peer.send(frame(FastStatus.Data, first.msgid, 'x', ['v2']));
        // Let the client see the values, then drop the connection.
        setTimeout(() => peer.socket.destroy(), 20);
      })();
    });
    const c = client(srv.port);
    try {
      const seen: unknown[] = [];
      const streaming = rejection(
        (async () => {
          for await (const v of c.request('x', [])) seen.push(v);
        })(),
      );
      const other = rejection(c.call('y', []));
      const [e1, e2] = await Promise.all([streaming, other]);
      assert.ok(e1 instanceof FastConnectionError);
      assert.ok(e2 instanceof FastConnectionError);
      assert.deepEqual(seen, ['v1', 'v2']);
      assert.equal(c.pending, 0);
    } finally {
      await c.close();
      await srv.close();
    }
  });
});

describe('reconnect and close', () => {
  test('reconnects with backoff after the server restarts', async () => {
    let server = new FastServer({ log });
    server.register('echo', async (rpc) => rpc.write(rpc.args[0]));
    const { port } = await server.listen(0);
    const c = client(port, { reconnect: { minDelayMs: 5, maxDelayMs: 20 } });
    try {
      assert.deepEqual(await c.call('echo', [1]), [1]);
      await server.close();
      // Down: requests fail with FastConnectionError (connection lost or refused).
      const err = await rejection(c.call('echo', [2]));
      assert.ok(err instanceof FastConnectionError);
      server = new FastServer({ log });
      server.register('echo', async (rpc) => rpc.write(rpc.args[0]));
      await server.listen(port);
      let result: unknown[] | undefined;
      for (let i = 0; i < 50 && !result; i++) {
        try {
          result = await c.call('echo', [3]);
        } catch (e) {
          assert.ok(e instanceof FastConnectionError);
        }
      }
      assert.deepEqual(result, [3]);
    } finally {
      await c.close();
      await server.close();
    }
  });

  test('reconnect: false leaves a lost client failed', async () => {
    const server = new FastServer({ log });
    server.register('echo', async (rpc) => rpc.write(rpc.args[0]));
    const { port } = await server.listen(0);
    const c = client(port, { reconnect: false });
    try {
      assert.deepEqual(await c.call('echo', [1]), [1]);
      await server.close();
      const err = await rejection(c.call('echo', [2]));
      assert.ok(err instanceof FastConnectionError);
    } finally {
      await c.close();
    }
  });

  test('refused connection fails with FastConnectionError', async () => {
    const server = new FastServer({ log });
    const { port } = await server.listen(0);
    await server.close();
    const c = client(port);
    const err = await rejection(c.connect());
    assert.ok(err instanceof FastConnectionError);
    await c.close();
    assert.ok((await rejection(c.call('x', []))) instanceof FastConnectionError);
  });

  test('graceful server close lets in-flight RPCs finish, then refuses connections', async () => {
    const server = new FastServer({ log });
    const g = gate();
    let started!: () => void;
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    server.register('slow', async (rpc) => {
      started();
      await g.wait;
      await rpc.write('finished');
    });
    const { port } = await server.listen(0);
    const c = client(port, { reconnect: false });
    try {
      const inflight = c.call('slow', []);
      await running;
      const closing = server.close();
      g.open();
      assert.deepEqual(await inflight, ['finished']);
      await closing;
      const late = client(port);
      assert.ok((await rejection(late.connect())) instanceof FastConnectionError);
      await late.close();
    } finally {
      await c.close();
    }
  });

  test('close() on the client fails pending requests', async () => {
    const server = new FastServer({ log });
    const g = gate();
    server.register('slow', async () => g.wait);
    const { port } = await server.listen(0);
    const c = client(port);
    const inflight = rejection(c.call('slow', []));
    await c.connect();
    await c.close();
    assert.ok((await inflight) instanceof FastConnectionError);
    g.open();
    await server.close();
  });
});
