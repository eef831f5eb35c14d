import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ConfigError, resolveConfig } from '../../src/agent/config.ts';
import { AgentMetrics } from '../../src/agent/metrics.ts';
import { DownloadProcessor } from '../../src/agent/processor.ts';
import { md5Base64 } from '../../src/manta/index.ts';
import { type MakoHandle, startMako } from '../../src/sandbox/mako/index.ts';
import { putSourceObject, silentLog, type TempDirs, taskFor, tempDirs } from './helpers.ts';

// In the sandbox, storage ids such as 1.stor.sandbox.test do not resolve: the agent reaches the
// source mako through host_aliases_file, while tasks keep the real storage id.
let dirs: TempDirs;
let mako: MakoHandle;
let aliasesFile: string;

before(async () => {
  dirs = await tempDirs();
  mako = await startMako({ root: dirs.sourceRoot, log: silentLog });
  aliasesFile = join(dirs.base, 'aliases.json');
  await writeFile(aliasesFile, JSON.stringify({ '1.stor.sandbox.test:80': mako.storageId }));
});
after(async () => {
  await mako.close();
  await dirs.cleanup();
});

test('host_aliases_file is loaded and validated as part of the config', async () => {
  const config = resolveConfig({ file: { server: { host_aliases_file: aliasesFile } } });
  assert.equal(config.hostAliases.get('1.stor.sandbox.test:80'), mako.storageId);
  const bad = join(dirs.base, 'bad-aliases.json');
  await writeFile(bad, JSON.stringify({ '1.stor.sandbox.test': 'nowhere' }));
  for (const file of [bad, join(dirs.base, 'missing.json')]) {
    assert.throws(
      () => resolveConfig({ file: { server: { host_aliases_file: file } } }),
      (e: unknown) => e instanceof ConfigError && e.option === 'server.host_aliases_file',
    );
  }
});

test('a task whose source is a storage id is downloaded from the aliased mako', async () => {
  const config = resolveConfig({ file: { server: { host_aliases_file: aliasesFile } } });
  const tempDir = join(dirs.objectRoot, '.rebalancer-tmp');
  await mkdir(tempDir, { recursive: true });
  const processor = new DownloadProcessor({
    objectRoot: dirs.objectRoot,
    tempDir,
    idPolicy: 'uuid',
    allowHostPortSources: false,
    hostAliases: config.hostAliases,
    connectTimeoutMs: 1000,
    idleTimeoutMs: 5000,
    retryDelaysMs: [],
    connectionsPerSource: 2,
    log: silentLog,
    metrics: new AgentMetrics({ service: 's', server: 'x', datacenter: 'dc' }),
  });
  try {
    const obj = await putSourceObject(dirs.sourceRoot, 4096);
    const result = await processor.process(
      taskFor(obj, '1.stor.sandbox.test'),
      new AbortController().signal,
    );
    assert.equal(result.status, 'Complete');
    const installed = await readFile(join(dirs.objectRoot, obj.owner, obj.objectId));
    assert.equal(md5Base64(installed), obj.md5);
    assert.equal(mako.requests.list().length, 1);
  } finally {
    await processor.close();
  }
});
