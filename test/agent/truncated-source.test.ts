/**
 * A source mako that drops the connection mid-body: the task fails as a source error
 * (SourceOtherError, after the retries), nothing is installed and no temp file is left, even
 * when the bytes that did arrive have exactly the MD5 the task expects.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { AgentMetrics } from '../../src/agent/metrics.ts';
import { DownloadProcessor } from '../../src/agent/processor.ts';
import type { Task } from '../../src/api/common.ts';
import { md5Base64, objectPath } from '../../src/manta/index.ts';
import { type BrokenHttpServer, startBrokenHttpServer } from '../support/broken-http.ts';
import { silentLog, type TempDirs, tempDirs } from './helpers.ts';

const PARTIAL = 'the first part of an object whose connection then breaks';

let dirs: TempDirs;
let source: BrokenHttpServer;
let processor: DownloadProcessor;
let tempDir: string;

before(async () => {
  dirs = await tempDirs();
  source = await startBrokenHttpServer({
    status: '200 OK',
    partialBody: PARTIAL,
    contentLength: PARTIAL.length + 10_000,
  });
  tempDir = join(dirs.objectRoot, '.rebalancer-tmp');
  await mkdir(tempDir, { recursive: true });
  processor = new DownloadProcessor({
    objectRoot: dirs.objectRoot,
    tempDir,
    idPolicy: 'uuid',
    allowHostPortSources: true,
    connectTimeoutMs: 1000,
    idleTimeoutMs: 2000,
    retryDelaysMs: [5, 5],
    connectionsPerSource: 4,
    log: silentLog,
    metrics: new AgentMetrics({ service: 's', server: 'x', datacenter: 'dc' }),
  });
});

after(async () => {
  await processor.close();
  await source.close();
  await dirs.cleanup();
});

test('a body cut off mid-stream fails the task as SourceOtherError, never Complete', async () => {
  const owner = randomUUID();
  const objectId = randomUUID();
  const task: Task = {
    object_id: objectId,
    owner,
    // What arrived before the cut: a truncated body taken for whole would pass the MD5 check.
    md5sum: md5Base64(Buffer.from(PARTIAL)),
    source: { datacenter: 'dc1', manta_storage_id: new URL(source.url).host },
    status: 'Pending',
  };
  const result = await processor.process(task, new AbortController().signal);
  assert.deepEqual(result.status, { Failed: 'SourceOtherError' });
  assert.equal(result.outcome, 'failed');
  // Every attempt (the first and two retries) was cut off the same way.
  assert.equal(source.requests.length, 3);
  await assert.rejects(stat(join(dirs.objectRoot, objectPath({ owner, objectId }))), {
    code: 'ENOENT',
  });
  assert.deepEqual(await readdir(tempDir), []);
});
