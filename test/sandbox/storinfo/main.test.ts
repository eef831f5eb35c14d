import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';

let base: string;

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'storinfo-main-'));
});

after(async () => {
  await rm(base, { recursive: true, force: true });
});

test('main.ts reads a JSON config, serves /storagenodes, stops on SIGTERM', async () => {
  const config = join(base, 'storinfo.json');
  await writeFile(
    config,
    JSON.stringify({
      sharks: [
        {
          manta_storage_id: '2.stor.t.us',
          datacenter: 'a',
          root: join(base, '2'),
          capacityBytes: 2 ** 30,
        },
        {
          manta_storage_id: '1.stor.t.us',
          datacenter: 'b',
          root: join(base, '1'),
          capacityBytes: 2 ** 30,
        },
      ],
    }),
  );
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/sandbox/storinfo/main.ts', '--config', config, '--port', '0'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = once(child, 'exit');
  try {
    let url: string | undefined;
    for await (const line of createInterface({ input: child.stdout })) {
      const rec = JSON.parse(line) as { msg: string; url?: string };
      if (rec.msg === 'storinfo listening') {
        url = rec.url;
        break;
      }
    }
    assert.ok(url);
    const res = await fetch(`${url}/storagenodes`);
    assert.equal(res.status, 200);
    const nodes = (await res.json()) as { manta_storage_id: string; availableMB: number }[];
    assert.deepEqual(
      nodes.map((n) => n.manta_storage_id),
      ['1.stor.t.us', '2.stor.t.us'],
    );
    assert.equal(nodes[0]?.availableMB, 1024);
  } finally {
    child.kill('SIGTERM');
  }
  const [code] = await exited;
  assert.equal(code, 0);
});

test('main.ts refuses an invalid config', async () => {
  const config = join(base, 'bad.json');
  await writeFile(config, JSON.stringify({ sharks: [{ manta_storage_id: 'x/y' }] }));
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/sandbox/storinfo/main.ts', '--config', config, '--log-level', 'fatal'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const [code] = await once(child, 'exit');
  assert.notEqual(code, 0);
  assert.match(stderr, /invalid storinfo config/);
});
