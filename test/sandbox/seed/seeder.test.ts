/**
 * Where both tiers' seeders may put copies (copySharks): the plan's sharks or all of them, and
 * copy counts that fit them, refused with a SeedError otherwise.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SandboxShark } from '../../../src/sandbox/description.ts';
import { copySharks, SeedError } from '../../../src/sandbox/seed/seeder.ts';

const shark = (n: number, datacenter: string): SandboxShark => ({
  manta_storage_id: `${n}.stor.sandbox.test`,
  datacenter,
  mako_url: `http://127.0.0.1:${8000 + n}`,
  root: `/tmp/mako-${n}`,
});
const SHARKS = [shark(1, 'dc1'), shark(2, 'dc2'), shark(3, 'dc1')];
const ids = (sharks: readonly SandboxShark[]) => sharks.map((s) => s.manta_storage_id);

test('every shark without a list; the listed ones, in the list’s order, with one', () => {
  assert.deepEqual(ids(copySharks(SHARKS, { minCopies: 1, maxCopies: 3 })), ids(SHARKS));
  assert.deepEqual(
    ids(
      copySharks(SHARKS, {
        minCopies: 1,
        maxCopies: 2,
        sharks: ['3.stor.sandbox.test', '1.stor.sandbox.test'],
      }),
    ),
    ['3.stor.sandbox.test', '1.stor.sandbox.test'],
  );
});

test('an unknown shark, or copy counts that do not fit 1 <= min <= max <= sharks, are refused', () => {
  assert.throws(
    () => copySharks(SHARKS, { minCopies: 1, maxCopies: 1, sharks: ['9.stor.sandbox.test'] }),
    (err) => err instanceof SeedError && err.message === 'unknown shark 9.stor.sandbox.test',
  );
  for (const [minCopies, maxCopies, sharks] of [
    [0, 1, undefined],
    [2, 1, undefined],
    [1, 4, undefined],
    [1, 2, ['2.stor.sandbox.test']],
  ] as const) {
    assert.throws(
      () => copySharks(SHARKS, { minCopies, maxCopies, ...(sharks ? { sharks } : {}) }),
      (err) => err instanceof SeedError && err.message.startsWith('copies must be 1 <= min'),
      `min ${minCopies}, max ${maxCopies}`,
    );
  }
});
