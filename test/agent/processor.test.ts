import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentMetrics } from '../../src/agent/metrics.ts';
import { DownloadProcessor } from '../../src/agent/processor.ts';
import { md5Base64 } from '../../src/manta/index.ts';
import { type MakoHandle, startMako } from '../../src/sandbox/mako/index.ts';
import { putSourceObject, silentLog, type TempDirs, taskFor, tempDirs } from './helpers.ts';

describe('DownloadProcessor against a mako stand-in', () => {
  let dirs: TempDirs;
  let mako: MakoHandle;
  let metrics: AgentMetrics;
  let processor: DownloadProcessor;
  let tempDir: string;
  const signal = new AbortController().signal;

  before(async () => {
    dirs = await tempDirs();
    mako = await startMako({ root: dirs.sourceRoot, log: silentLog, keepAlive: true });
    tempDir = join(dirs.objectRoot, '.rebalancer-tmp');
    await mkdir(tempDir, { recursive: true });
    metrics = new AgentMetrics({ service: 's', server: 'x', datacenter: 'dc' });
    processor = new DownloadProcessor({
      objectRoot: dirs.objectRoot,
      tempDir,
      idPolicy: 'uuid',
      allowHostPortSources: true,
      connectTimeoutMs: 1000,
      idleTimeoutMs: 300,
      retryDelaysMs: [5, 5],
      connectionsPerSource: 4,
      log: silentLog,
      metrics,
    });
  });

  after(async () => {
    await processor.close();
    await mako.close();
    await dirs.cleanup();
  });

  beforeEach(() => {
    mako.faults.reset();
    mako.requests.clear();
  });

  async function tempFiles(): Promise<string[]> {
    return readdir(tempDir);
  }

  test('downloads a v1 object, verifies it and installs it under the object root', async () => {
    const obj = await putSourceObject(dirs.sourceRoot, 300_000);
    const r = await processor.process(taskFor(obj, mako.storageId), signal);
    assert.deepEqual(r, { status: 'Complete', outcome: 'complete', bytes: 300_000 });
    const installed = await readFile(join(dirs.objectRoot, obj.owner, obj.objectId));
    assert.equal(md5Base64(installed), obj.md5);
    assert.deepEqual(await tempFiles(), []);
    assert.match(await metrics.text(), /bytes_count\{[^}]*\} 300000/);
  });

  test('downloads a v2 object to the v2 layout from the v2 URL', async () => {
    const obj = await putSourceObject(dirs.sourceRoot, 1000, { v2: true });
    const r = await processor.process(taskFor(obj, mako.storageId), signal);
    assert.equal(r.status, 'Complete');
    const file = join(
      dirs.objectRoot,
      'v2',
      obj.owner,
      obj.bucketId!,
      obj.objectId.slice(0, 2),
      `${obj.objectId},${obj.objectNameHash}`,
    );
    assert.deepEqual(await readFile(file), obj.data);
    assert.deepEqual(
      mako.requests.list().map((x) => x.path),
      [obj.path],
    );
  });

  test('MD5 mismatch fails with MD5Mismatch and leaves neither temp nor object', async () => {
    const obj = await putSourceObject(dirs.sourceRoot, 5000);
    const r = await processor.process(taskFor(obj, mako.storageId, md5Base64('other')), signal);
    assert.deepEqual(r.status, { Failed: 'MD5Mismatch' });
    await assert.rejects(readFile(join(dirs.objectRoot, obj.owner, obj.objectId)), {
      code: 'ENOENT',
    });
    assert.deepEqual(await tempFiles(), []);
  });

  test('a corrupted body fails with MD5Mismatch', async () => {
    const obj = await putSourceObject(dirs.sourceRoot, 5000);
    mako.faults.set({ corrupt: { paths: [obj.path] } });
    const r = await processor.process(taskFor(obj, mako.storageId), signal);
    assert.deepEqual(r.status, { Failed: 'MD5Mismatch' });
    assert.deepEqual(await tempFiles(), []);
  });

  test('404 fails with SourceObjectNotFound, without retries; no temp left', async () => {
    const obj = await putSourceObject(dirs.sourceRoot, 10);
    mako.faults.set({ missing: { paths: [obj.path] } });
    const r = await processor.process(taskFor(obj, mako.storageId), signal);
    assert.deepEqual(r.status, { Failed: 'SourceObjectNotFound' });
    assert.equal(mako.requests.list().length, 1);
    // The temp file is created while the request is in flight: a refusal removes it again.
    assert.deepEqual(await tempFiles(), []);
  });

  test('a source that refuses the connection fails with SourceOtherError; no temp left', async () => {
    const obj = await putSourceObject(dirs.sourceRoot, 10);
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((r) => closed.close(() => r()));
    const r = await processor.process(taskFor(obj, `127.0.0.1:${port}`), signal);
    assert.deepEqual(r.status, { Failed: 'SourceOtherError' });
    assert.deepEqual(await tempFiles(), []);
  });

  test('another status fails with {"HTTPStatusCode":n}', async () => {
    const obj = await putSourceObject(dirs.sourceRoot, 10);
    mako.faults.set({ error: { paths: [obj.path], status: 500 } });
    const r = await processor.process(taskFor(obj, mako.storageId), signal);
    assert.deepEqual(r.status, { Failed: { HTTPStatusCode: 500 } });
    assert.equal(JSON.stringify(r.status), '{"Failed":{"HTTPStatusCode":500}}');
    assert.deepEqual(await tempFiles(), []);
  });

  test('a connection reset mid-body is retried, then SourceOtherError; no temp left', async () => {
    const obj = await putSourceObject(dirs.sourceRoot, 200_000);
    mako.faults.set({ reset: { paths: [obj.path], fraction: 0.5 } });
    const r = await processor.process(taskFor(obj, mako.storageId), signal);
    assert.deepEqual(r.status, { Failed: 'SourceOtherError' });
    assert.equal(mako.requests.list().length, 3, 'one attempt plus two retries');
    assert.deepEqual(await tempFiles(), []);
  });

  test('a truncated body (short of Content-Length) fails with SourceOtherError', async () => {
    const obj = await putSourceObject(dirs.sourceRoot, 200_000);
    mako.faults.set({ truncate: { paths: [obj.path], fraction: 0.3 } });
    const r = await processor.process(taskFor(obj, mako.storageId), signal);
    assert.deepEqual(r.status, { Failed: 'SourceOtherError' });
    await assert.rejects(readFile(join(dirs.objectRoot, obj.owner, obj.objectId)), {
      code: 'ENOENT',
    });
  });

  test('a source slower than the idle timeout fails with SourceOtherError', async () => {
    const obj = await putSourceObject(dirs.sourceRoot, 10);
    mako.faults.set({ latencyMs: 5000 });
    const r = await processor.process(taskFor(obj, mako.storageId), signal);
    assert.deepEqual(r.status, { Failed: 'SourceOtherError' });
    // The mako logs a request when it sees its connection close: wait for all three attempts,
    // so that none is logged during the next test.
    while (mako.requests.list().length < 3) await sleep(10);
  });

  test('an object already present with the right MD5 completes without a request', async () => {
    const obj = await putSourceObject(dirs.sourceRoot, 4096);
    const dest = join(dirs.objectRoot, obj.owner, obj.objectId);
    await mkdir(dirname(dest), { recursive: true });
    await writeFile(dest, obj.data);
    const r = await processor.process(taskFor(obj, mako.storageId), signal);
    assert.deepEqual(r, { status: 'Complete', outcome: 'skipped', bytes: 0 });
    assert.equal(mako.requests.list().length, 0);
  });

  test('an object present with a wrong MD5 is replaced', async () => {
    const obj = await putSourceObject(dirs.sourceRoot, 4096);
    const dest = join(dirs.objectRoot, obj.owner, obj.objectId);
    await mkdir(dirname(dest), { recursive: true });
    await writeFile(dest, 'damaged copy');
    const r = await processor.process(taskFor(obj, mako.storageId), signal);
    assert.deepEqual(r, { status: 'Complete', outcome: 'complete', bytes: 4096 });
    assert.deepEqual(await readFile(dest), obj.data);
  });

  test('a refused connection is retried, then SourceOtherError', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((r) => server.close(() => r()));
    const obj = await putSourceObject(dirs.sourceRoot, 10);
    const r = await processor.process(taskFor(obj, `127.0.0.1:${port}`), signal);
    assert.deepEqual(r.status, { Failed: 'SourceOtherError' });
  });

  test('redirects are not followed (no fetching from another host)', async () => {
    const obj = await putSourceObject(dirs.sourceRoot, 10);
    const server: Server = createServer((_req, res) => {
      res.writeHead(302, { location: `${mako.url}${obj.path}` });
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      const r = await processor.process(taskFor(obj, `127.0.0.1:${port}`), signal);
      assert.deepEqual(r.status, { Failed: { HTTPStatusCode: 302 } });
      assert.equal(mako.requests.list().length, 0);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  test('a stored task whose ids would escape the root fails without touching the disk', async () => {
    const obj = await putSourceObject(dirs.sourceRoot, 10);
    const task = { ...taskFor(obj, mako.storageId), owner: '..' };
    const r = await processor.process(task, signal);
    assert.deepEqual(r.status, { Failed: 'AgentFSError' });
    assert.equal(mako.requests.list().length, 0);
  });

  test('the same object in two concurrent tasks is installed once, correctly', async () => {
    const obj = await putSourceObject(dirs.sourceRoot, 100_000);
    const t = taskFor(obj, mako.storageId);
    const [a, b] = await Promise.all([processor.process(t, signal), processor.process(t, signal)]);
    assert.equal(a.status, 'Complete');
    assert.deepEqual(b, { status: 'Complete', outcome: 'skipped', bytes: 0 });
    assert.equal(mako.requests.list().length, 1);
  });
});
