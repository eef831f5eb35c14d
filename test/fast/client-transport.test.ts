/**
 * FastClient against raw servers that break mid-response: a frame cut off in its header or
 * its payload, a half-close with a partial frame, an unparsable payload, an ERROR of the wrong
 * shape. Every one is a typed Fast error of the request, never a hang or a stray value.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  encodeFrameJson,
  FastClient,
  FastConnectionError,
  FastProtocolError,
  FastServerError,
  FastStatus,
} from '../../src/fast/index.ts';
import { frame, log, type RawPeer, rawServer } from './helpers.ts';

/** A raw server answering the first request of each connection with `answer`. */
async function withServer(
  answer: (peer: RawPeer, msgid: number) => void,
  run: (client: FastClient) => Promise<void>,
): Promise<void> {
  const srv = await rawServer((peer) => {
    void (async () => {
      const msg = await peer.next();
      if (msg) answer(peer, msg.msgid);
    })();
  });
  const client = new FastClient({ host: '127.0.0.1', port: srv.port, log, reconnect: false });
  try {
    await run(client);
  } finally {
    await client.close();
    await srv.close();
  }
}

async function consume(client: FastClient, seen: unknown[]): Promise<Error> {
  try {
    for await (const v of client.request('x', [])) seen.push(v);
  } catch (err) {
    assert.ok(err instanceof Error);
    return err;
  }
  assert.fail('expected the request to fail');
}

test('a frame cut off in its payload, then the connection dropped: FastConnectionError', async () => {
  await withServer(
    (peer, msgid) => {
      peer.send(frame(FastStatus.Data, msgid, 'x', ['whole']));
      const next = frame(FastStatus.Data, msgid, 'x', ['never whole']);
      peer.send(next.subarray(0, next.length - 5));
      setTimeout(() => peer.socket.destroy(), 20);
    },
    async (client) => {
      const seen: unknown[] = [];
      const err = await consume(client, seen);
      assert.ok(err instanceof FastConnectionError, String(err));
      assert.deepEqual(seen, ['whole']);
      assert.equal(client.pending, 0);
    },
  );
});

test('a frame cut off inside its 15-byte header: FastConnectionError', async () => {
  await withServer(
    (peer, msgid) => {
      peer.send(frame(FastStatus.End, msgid, 'x', []).subarray(0, 7));
      setTimeout(() => peer.socket.destroy(), 20);
    },
    async (client) => {
      const err = await consume(client, []);
      assert.ok(err instanceof FastConnectionError, String(err));
    },
  );
});

test('a half-close (FIN) after part of a frame: FastConnectionError', async () => {
  await withServer(
    (peer, msgid) => {
      const f = frame(FastStatus.End, msgid, 'x', ['v']);
      peer.send(f.subarray(0, 20));
      peer.socket.end();
    },
    async (client) => {
      const err = await consume(client, []);
      assert.ok(err instanceof FastConnectionError, String(err));
    },
  );
});

test('a payload that is not JSON (valid CRC): FastConnectionError caused by invalid_json', async () => {
  await withServer(
    (peer, msgid) => {
      peer.send(encodeFrameJson(2, FastStatus.Data, msgid, { uts: 1, name: 'x' }, '[1,'));
    },
    async (client) => {
      const err = await consume(client, []);
      assert.ok(err instanceof FastConnectionError, String(err));
      assert.ok(err.cause instanceof FastProtocolError);
      assert.equal(err.cause.reason, 'invalid_json');
    },
  );
});

test('an ERROR whose context and info are not objects keeps name and message, drops them', async () => {
  await withServer(
    (peer, msgid) => {
      peer.send(
        frame(FastStatus.Error, msgid, 'x', {
          name: 'EtagConflictError',
          message: 'conflict',
          context: 'not an object',
          info: [1, 2],
        }),
      );
    },
    async (client) => {
      const err = await consume(client, []);
      assert.ok(err instanceof FastServerError, String(err));
      assert.equal(err.name, 'EtagConflictError');
      assert.equal(err.message, 'conflict');
      assert.deepEqual(err.context, {});
      assert.deepEqual(err.info, {});
    },
  );
});
