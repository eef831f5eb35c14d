import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { send } from './http-client.ts';

let base: string;

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'mako-main-'));
  await mkdir(join(base, 'owner'));
  await writeFile(join(base, 'owner', 'obj'), 'served by a child process');
});

after(async () => {
  await rm(base, { recursive: true, force: true });
});

test('main.ts runs a mako as a child process and stops on SIGTERM', async () => {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/sandbox/mako/main.ts',
      '--root',
      base,
      '--port',
      '0',
      '--faults',
      '{"seed":3}',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = once(child, 'exit');
  try {
    const lines = createInterface({ input: child.stdout });
    let url: string | undefined;
    for await (const line of lines) {
      const rec = JSON.parse(line) as { msg: string; url?: string; name: string };
      assert.equal(rec.name, 'mako');
      if (rec.msg === 'mako listening') {
        url = rec.url;
        break;
      }
    }
    assert.ok(url);
    const r = await send(`${url}/owner/obj`);
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'served by a child process');
    const faults = JSON.parse((await send(`${url}/_sandbox/faults`)).body.toString());
    assert.equal(faults.seed, 3);
  } finally {
    child.kill('SIGTERM');
  }
  const [code] = await exited;
  assert.equal(code, 0);
});
