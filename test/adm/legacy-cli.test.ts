/** L's rebalancer-adm usage tests still missing elsewhere (manager.md §11.1 [L-adm]). */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ADM = join(fileURLToPath(new URL('../../', import.meta.url)), 'bin/rebalancer-adm.js');

// job_create_no_params: `job create` alone fails, and its usage lists `evacuate`.
test('job_create_no_params', async () => {
  const { code, output } = await new Promise<{ code: number; output: string }>((resolve) => {
    execFile(process.execPath, [ADM, 'job', 'create'], (err, stdout, stderr) => {
      resolve({ code: err ? Number(err.code ?? 1) : 0, output: stdout + stderr });
    });
  });
  assert.notEqual(code, 0);
  assert.match(output, /Usage: rebalancer-adm job create/);
  assert.match(output, /^\s+evacuate\b/m);
});
