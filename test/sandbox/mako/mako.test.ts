import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { createLogger } from '../../../src/log/index.ts';
import { md5Base64, objectNameHash } from '../../../src/manta/md5.ts';
import { resolveUnderRoot, v1ObjectPath, v2ObjectPath } from '../../../src/manta/paths.ts';
import { type MakoHandle, startMako } from '../../../src/sandbox/mako/index.ts';
import { rawStatus, send } from './http-client.ts';

const OWNER = '61368287-aa5b-6c0f-f3a9-931a228215e4';
const OBJ1 = '2e08b069-d132-c25c-920c-945e3329e450';
const OBJ2 = '7a3c0e7e-55b1-4c39-9a0e-1c2d3e4f5a6b';
const BUCKET = 'a1b2c3d4-0000-4000-8000-000000000001';
const V1 = v1ObjectPath(OWNER, OBJ1);
const V2 = v2ObjectPath(OWNER, BUCKET, OBJ2, objectNameHash('photos/cat.jpg'));
const DATA1 = randomBytes(300_000);
const DATA2 = Buffer.from('a v2 object\n');

describe('mako stand-in', () => {
  let base: string;
  let root: string;
  let mako: MakoHandle;

  async function put(rel: string, data: Buffer): Promise<void> {
    const file = resolveUnderRoot(root, rel);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, data);
  }

  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'mako-test-'));
    root = join(base, 'manta');
    await mkdir(root);
    await writeFile(join(base, 'secret'), 'outside the root');
    await put(V1, DATA1);
    await put(V2, DATA2);
    mako = await startMako({ root, log: createLogger({ name: 'mako', level: 'silent' }) });
  });

  after(async () => {
    await mako.close();
    await rm(base, { recursive: true, force: true });
  });

  beforeEach(() => {
    mako.faults.reset();
    mako.requests.clear();
  });

  test('GET v1: exact bytes and nginx-like headers', async () => {
    const r = await send(mako.url + V1);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, DATA1);
    assert.equal(r.headers['content-length'], String(DATA1.length));
    assert.equal(r.headers['content-md5'], md5Base64(DATA1));
    assert.equal(r.headers['content-type'], 'application/octet-stream');
    assert.equal(r.headers['accept-ranges'], 'bytes');
    assert.equal(r.headers.connection, 'close');
    const st = await stat(join(root, OWNER, OBJ1));
    assert.equal(
      r.headers.etag,
      `"${Math.floor(st.mtimeMs / 1000).toString(16)}-${DATA1.length.toString(16)}"`,
    );
    assert.equal(r.headers['last-modified'], st.mtime.toUTCString());
  });

  test('GET and HEAD v2 path', async () => {
    assert.ok(V2.startsWith(`/v2/${OWNER}/${BUCKET}/7a/${OBJ2},`));
    const r = await send(mako.url + V2);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, DATA2);
    const h = await send(mako.url + V2, { method: 'HEAD' });
    assert.equal(h.status, 200);
    assert.equal(h.body.length, 0);
    assert.equal(h.headers['content-length'], String(DATA2.length));
    assert.equal(h.headers['content-md5'], md5Base64(DATA2));
  });

  test('Range: 206 with Content-Range, 416 past the end', async () => {
    const r = await send(mako.url + V1, { headers: { range: 'bytes=10-19' } });
    assert.equal(r.status, 206);
    assert.deepEqual(r.body, DATA1.subarray(10, 20));
    assert.equal(r.headers['content-range'], `bytes 10-19/${DATA1.length}`);
    const tail = await send(mako.url + V1, { headers: { range: 'bytes=-5' } });
    assert.deepEqual(tail.body, DATA1.subarray(DATA1.length - 5));
    const bad = await send(mako.url + V1, { headers: { range: `bytes=${DATA1.length}-` } });
    assert.equal(bad.status, 416);
    assert.equal(bad.headers['content-range'], `bytes */${DATA1.length}`);
  });

  test('missing object → 404 nginx page; directories are not served', async () => {
    const r = await send(`${mako.url}/${OWNER}/${OBJ2}`);
    assert.equal(r.status, 404);
    assert.match(r.body.toString(), /404 Not Found/);
    assert.equal((await send(`${mako.url}/${OWNER}/`)).status, 403);
    const redirect = await send(`${mako.url}/${OWNER}`);
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.location, `/${OWNER}/`);
    assert.equal((await send(`${mako.url}/`)).status, 403);
  });

  test('PUT: 201 then 204, computed MD5 header, bytes on disk, no temp left', async () => {
    const rel = v1ObjectPath(OWNER, 'b0b0b0b0-1111-4222-8333-444444444444');
    const body = randomBytes(70_000);
    const md5 = md5Base64(body);
    const created = await send(mako.url + rel, {
      method: 'PUT',
      body,
      headers: { 'content-md5': md5 },
    });
    assert.equal(created.status, 201);
    assert.equal(created.headers.location, rel);
    assert.equal(created.headers['x-joyent-computed-content-md5'], md5);
    assert.deepEqual(await readFile(resolveUnderRoot(root, rel)), body);
    const again = await send(mako.url + rel, { method: 'PUT', body: 'new' });
    assert.equal(again.status, 204);
    assert.equal(again.headers['x-joyent-computed-content-md5'], md5Base64('new'));
    assert.equal((await readFile(resolveUnderRoot(root, rel))).toString(), 'new');
    const got = await send(mako.url + rel);
    assert.equal(got.headers['content-md5'], md5Base64('new'));
    assert.deepEqual(await readdir(join(root, 'nginx_temp')), []);
  });

  test('PUT: 469 on Content-MD5 mismatch, 400 on a malformed one; nothing written', async () => {
    const rel = v1ObjectPath(OWNER, 'c0c0c0c0-1111-4222-8333-444444444444');
    const r = await send(mako.url + rel, {
      method: 'PUT',
      body: 'payload',
      headers: { 'content-md5': md5Base64('other') },
    });
    assert.equal(r.status, 469);
    assert.equal(r.headers['x-joyent-computed-content-md5'], md5Base64('payload'));
    const bad = await send(mako.url + rel, {
      method: 'PUT',
      body: 'payload',
      headers: { 'content-md5': 'not-base64' },
    });
    assert.equal(bad.status, 400);
    await assert.rejects(stat(resolveUnderRoot(root, rel)), { code: 'ENOENT' });
    assert.deepEqual(await readdir(join(root, 'nginx_temp')), []);
  });

  test('PUT onto a directory or a path ending in / → 409', async () => {
    assert.equal((await send(`${mako.url}/${OWNER}`, { method: 'PUT', body: 'x' })).status, 409);
    assert.equal(
      (await send(`${mako.url}/${OWNER}/new/`, { method: 'PUT', body: 'x' })).status,
      409,
    );
  });

  test('other methods → 405', async () => {
    assert.equal((await send(mako.url + V1, { method: 'DELETE' })).status, 405);
    assert.equal((await stat(join(root, OWNER, OBJ1))).size, DATA1.length);
  });

  test('path traversal is rejected', async () => {
    for (const target of [
      '/../secret',
      '/%2e%2e/secret',
      `/${OWNER}/../../secret`,
      `/${OWNER}/%2E%2E/%2E%2E/secret`,
      '/..%2fsecret',
      '/x%00y',
      '/%zz',
      'secret',
    ]) {
      assert.equal(await rawStatus(mako.port, target), 400, target);
    }
    for (const target of ['/%2e%2e/escaped', `/${OWNER}/../../escaped`]) {
      assert.equal(await rawStatus(mako.port, target, 'PUT', 'x'), 400, target);
    }
    await assert.rejects(stat(join(base, 'escaped')), { code: 'ENOENT' });
  });

  test('fault: latency trips a short client timeout', async () => {
    mako.faults.set({ latencyMs: 60_000 });
    await assert.rejects(send(mako.url + V2, { timeoutMs: 100 }), { code: 'CLIENT_TIMEOUT' });
    mako.faults.set({});
    assert.equal((await send(mako.url + V2, { timeoutMs: 10_000 })).status, 200);
  });

  test('fault: error fraction is deterministic under a seed', async () => {
    const run = async () => {
      mako.faults.set({ seed: 42, error: { rate: 0.5, status: 503 } });
      const statuses: number[] = [];
      for (let i = 0; i < 24; i++) statuses.push((await send(mako.url + V2)).status);
      return statuses;
    };
    const first = await run();
    assert.ok(first.includes(200) && first.includes(503), first.join(','));
    assert.ok(first.every((s) => s === 200 || s === 503));
    assert.deepEqual(await run(), first);
    mako.faults.set({ seed: 43, error: { rate: 0.5, status: 503 } });
    const other: number[] = [];
    for (let i = 0; i < 24; i++) other.push((await send(mako.url + V2)).status);
    assert.notDeepEqual(other, first);
    mako.faults.set({ error: { rate: 1, status: 500, methods: ['PUT'] } });
    assert.equal((await send(mako.url + V2)).status, 200);
    assert.equal((await send(mako.url + V2, { method: 'PUT', body: 'x' })).status, 500);
  });

  test('fault: missing by path and by fraction', async () => {
    mako.faults.set({ missing: { paths: [V1] } });
    assert.equal((await send(mako.url + V1)).status, 404);
    assert.equal((await send(mako.url + V1, { method: 'HEAD' })).status, 404);
    assert.equal((await send(mako.url + V2)).status, 200);
    mako.faults.set({ missing: { rate: 1 } });
    assert.equal((await send(mako.url + V2)).status, 404);
    assert.deepEqual(
      mako.requests
        .list()
        .slice(-4)
        .map((r) => [r.path, r.status, r.fault]),
      [
        [V1, 404, 'missing'],
        [V1, 404, 'missing'],
        [V2, 200, undefined],
        [V2, 404, 'missing'],
      ],
    );
  });

  test('fault: corrupt body has the right length and the wrong MD5', async () => {
    mako.faults.set({ corrupt: { paths: [V1] } });
    const r = await send(mako.url + V1);
    assert.equal(r.status, 200);
    assert.equal(r.body.length, DATA1.length);
    assert.notEqual(md5Base64(r.body), md5Base64(DATA1));
    let differing = 0;
    for (let i = 0; i < DATA1.length; i++) if (r.body[i] !== DATA1[i]) differing++;
    assert.equal(differing, 1);
  });

  test('fault: truncated body ends early', async () => {
    mako.faults.set({ truncate: { rate: 1, fraction: 0.25 } });
    const r = await send(mako.url + V1);
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-length'], String(DATA1.length));
    assert.ok(r.body.length < DATA1.length, `${r.body.length}`);
    assert.ok(r.error, 'the client sees the connection end before Content-Length');
    assert.deepEqual(r.body, DATA1.subarray(0, r.body.length));
  });

  test('fault: connection reset mid-body', async () => {
    mako.faults.set({ reset: { paths: [V1], fraction: 0.5 } });
    const r = await send(mako.url + V1).catch((err: NodeJS.ErrnoException) => err);
    if (r instanceof Error) {
      assert.equal((r as NodeJS.ErrnoException).code, 'ECONNRESET');
    } else {
      assert.ok(r.error, 'socket error after a partial body');
      assert.ok(r.body.length < DATA1.length);
    }
    assert.equal(mako.requests.list().at(-1)?.fault, 'reset');
  });

  test('fault: throttled body trips a short client timeout, bytes stay exact', async () => {
    mako.faults.set({ throttle: { paths: [V1], bytesPerSecond: 1000 } });
    await assert.rejects(send(mako.url + V1, { timeoutMs: 300 }), { code: 'CLIENT_TIMEOUT' });
    mako.faults.set({ throttle: { paths: [V2], bytesPerSecond: 100_000 } });
    const r = await send(mako.url + V2, { timeoutMs: 10_000 });
    assert.deepEqual(r.body, DATA2);
    assert.equal(mako.requests.list().at(-1)?.fault, 'throttle');
  });

  test('fault: clearing a throttle releases a download trickling under it', async () => {
    // 300 kB at 1 kB/s would take five minutes.
    mako.faults.set({ throttle: { paths: [V1], bytesPerSecond: 1000 } });
    const started = performance.now();
    const download = send(mako.url + V1, { timeoutMs: 30_000 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    mako.faults.set({});
    const r = await download;
    assert.deepEqual(r.body, DATA1, 'every byte, in order');
    assert.ok(performance.now() - started < 10_000, 'released, not trickled to the end');
  });

  test('admin endpoint: get, set, validation', async () => {
    const url = `${mako.url}/_sandbox/faults`;
    const set = await send(url, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ seed: 5, missing: { paths: [V2] } }),
    });
    assert.equal(set.status, 200);
    const got = JSON.parse((await send(url)).body.toString());
    assert.equal(got.seed, 5);
    assert.deepEqual(got.missing, { rate: 0, paths: [V2] });
    assert.equal(got.error.status, 500);
    assert.equal((await send(mako.url + V2)).status, 404);
    for (const bad of [
      '{',
      '[]',
      '{"latencyMs":-1}',
      '{"error":{"rate":2}}',
      '{"error":{"status":200}}',
      '{"unknown":1}',
      '{"corrupt":{"paths":"x"}}',
    ]) {
      const r = await send(url, { method: 'PUT', body: bad });
      assert.equal(r.status, 400, bad);
      assert.equal(JSON.parse(r.body.toString()).code, 'BadRequest');
    }
    // A rejected update leaves the faults as they were.
    assert.equal(JSON.parse((await send(url)).body.toString()).seed, 5);
    assert.equal((await send(url, { method: 'POST', body: '{}' })).status, 405);
    // Object requests are logged, admin requests are not. (A previous test's request may
    // still be logged first: 'close' can follow the reply by a tick.)
    const log = JSON.parse((await send(`${mako.url}/_sandbox/requests`)).body.toString());
    assert.deepEqual(log.at(-1), { ...log.at(-1), path: V2, status: 404, fault: 'missing' });
    assert.ok(log.every((r: { path: string }) => !r.path.startsWith('/_sandbox')));
  });
});
