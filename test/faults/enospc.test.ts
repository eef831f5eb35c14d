/** The small filesystem of the enospc fault: full means ENOSPC for real, released means room. */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { probeTmpfs, TmpfsRoot } from '../../src/sandbox/faults/enospc.ts';

const probe = await probeTmpfs();

test('a filled tmpfs refuses writes with ENOSPC until released', {
  skip: probe.ok ? false : `cannot mount a tmpfs here: ${probe.reason}`,
}, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'enospc-test-'));
  const root = await TmpfsRoot.mount(join(dir, 'root'), 4 << 20);
  try {
    await writeFile(join(root.dir, 'before'), Buffer.alloc(8192));
    const filled = await root.fill();
    assert.ok(filled > 3 << 20 && filled <= 4 << 20, `filler ${filled} bytes`);
    await assert.rejects(writeFile(join(root.dir, 'during'), Buffer.alloc(8192)), {
      code: 'ENOSPC',
    });
    await root.release();
    await writeFile(join(root.dir, 'after'), Buffer.alloc(8192));
  } finally {
    await root.unmount();
    await rm(dir, { recursive: true, force: true });
  }
});
