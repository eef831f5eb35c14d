import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  isRunning,
  ServiceStartError,
  startService,
  stopProcess,
} from '../../src/sandbox/process.ts';

const fixture = new URL('./fixtures/listener.mjs', import.meta.url).pathname;
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sandbox-process-'));
});
after(() => rm(dir, { recursive: true, force: true }));

test('a started service is reachable on the port it logged, and stops on SIGTERM', async () => {
  const started = await startService({
    name: 'listener',
    entry: fixture,
    args: [],
    log: join(dir, 'listener.log'),
  });
  assert.ok(isRunning(started.process.pid));
  await new Promise<void>((resolve, reject) => {
    const socket = connect(started.address.port, started.address.host, () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });
  await stopProcess(started.process.pid);
  assert.equal(isRunning(started.process.pid), false);
});

test('a service that ignores SIGTERM is killed after the grace period', async () => {
  const started = await startService({
    name: 'stubborn',
    entry: fixture,
    args: ['--stubborn'],
    log: join(dir, 'stubborn.log'),
  });
  await stopProcess(started.process.pid, 300);
  assert.equal(isRunning(started.process.pid), false);
});

test('a service that dies before listening is reported with its log file', async () => {
  const broken = join(dir, 'broken.ts');
  await writeFile(broken, "throw new Error('cannot start');\n");
  await assert.rejects(
    startService({ name: 'broken', entry: broken, args: [], log: join(dir, 'broken.log') }),
    (err: unknown) =>
      err instanceof ServiceStartError &&
      /broken exited .* before listening; see .*broken\.log/.test(err.message),
  );
});
