import assert from 'node:assert/strict';
import { lstatSync, readdirSync } from 'node:fs';
import {
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  rename,
  rm,
  stat,
  symlink,
  truncate,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type UsageFs, UsageTracker } from '../../../src/sandbox/storinfo/usage.ts';

/** The oracle: a plain full walk, regular files only, symlinks not followed. */
function walkBytes(root: string): number {
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(root);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.isFile() ? st.size : 0;
  let total = 0;
  for (const name of readdirSync(root)) {
    const full = join(root, name);
    const s = lstatSync(full);
    if (s.isDirectory()) total += walkBytes(full);
    else if (s.isFile()) total += s.size;
  }
  return total;
}

async function expectOracle(tracker: UsageTracker, message?: string): Promise<number> {
  const got = await tracker.poll();
  assert.equal(got, walkBytes(tracker.root), message);
  return got;
}

/** Counts calls by path; `hook` runs before each real call (to stage races). */
function countingFs(hook?: (op: string, path: string) => Promise<void>) {
  const calls = { stat: [] as string[], lstat: [] as string[], readdir: [] as string[] };
  const fs: UsageFs = {
    async stat(path, options) {
      calls.stat.push(path);
      await hook?.('stat', path);
      return stat(path, options);
    },
    async lstat(path, options) {
      calls.lstat.push(path);
      await hook?.('lstat', path);
      return lstat(path, options);
    },
    async readdir(path, options) {
      calls.readdir.push(path);
      const entries = await readdir(path, options);
      await hook?.('readdir', path);
      return entries;
    },
  };
  const reset = () => {
    calls.stat.length = 0;
    calls.lstat.length = 0;
    calls.readdir.length = 0;
  };
  return { fs, calls, reset };
}

/** Sets every mtime under `dir` an hour back (ctime cannot be set: it becomes now). */
async function age(dir: string): Promise<void> {
  const past = new Date(Date.now() - 3_600_000);
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.isDirectory()) await age(join(dir, e.name));
    else if (e.isFile()) await utimes(join(dir, e.name), past, past);
  }
  await utimes(dir, past, past);
}

/** A clock 10 s ahead: nothing on disk looks fresh, so only real changes cause reads. */
const later = () => (BigInt(Date.now()) + 10_000n) * 1_000_000n;

describe('storinfo usage tracker', () => {
  let base: string;
  let n = 0;
  const fresh = async () => {
    n += 1;
    const root = join(base, `r${n}`);
    await mkdir(root);
    return root;
  };

  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'storinfo-usage-'));
  });
  after(async () => {
    await rm(base, { recursive: true, force: true });
  });

  test('initial walk counts regular files only and follows no symlink', async () => {
    const root = await fresh();
    await mkdir(join(root, 'a', 'b', 'c'), { recursive: true });
    await writeFile(join(root, 'top'), Buffer.alloc(10));
    await writeFile(join(root, 'a', 'x'), Buffer.alloc(200));
    await writeFile(join(root, 'a', 'b', 'c', 'y'), Buffer.alloc(3000));
    await symlink(join(root, 'a'), join(root, 'link-dir'));
    await symlink(join(root, 'top'), join(root, 'link-file'));
    const tracker = new UsageTracker(root);
    assert.equal(await expectOracle(tracker), 3210);
    assert.equal(await expectOracle(tracker), 3210, 'an unchanged tree polls the same');
  });

  test('files added and removed', async () => {
    const root = await fresh();
    await mkdir(join(root, 'd1'));
    await writeFile(join(root, 'd1', 'a'), Buffer.alloc(5));
    const tracker = new UsageTracker(root);
    await expectOracle(tracker);
    await writeFile(join(root, 'd1', 'b'), Buffer.alloc(7));
    await writeFile(join(root, 'c'), Buffer.alloc(11));
    assert.equal(await expectOracle(tracker), 23);
    await rm(join(root, 'd1', 'a'));
    assert.equal(await expectOracle(tracker), 18);
    await rm(join(root, 'c'));
    await writeFile(join(root, 'd1', 'a'), Buffer.alloc(1));
    assert.equal(await expectOracle(tracker), 8);
  });

  test('a subdirectory added, then removed whole', async () => {
    const root = await fresh();
    const tracker = new UsageTracker(root);
    assert.equal(await expectOracle(tracker), 0);
    await mkdir(join(root, 'owner', 'deep', 'er'), { recursive: true });
    await writeFile(join(root, 'owner', 'o1'), Buffer.alloc(100));
    await writeFile(join(root, 'owner', 'deep', 'er', 'o2'), Buffer.alloc(50));
    assert.equal(await expectOracle(tracker), 150);
    await rm(join(root, 'owner', 'deep'), { recursive: true });
    assert.equal(await expectOracle(tracker), 100);
    await rm(join(root, 'owner'), { recursive: true });
    assert.equal(await expectOracle(tracker), 0);
    // A directory replaced by a file of the same name, and back.
    await writeFile(join(root, 'owner'), Buffer.alloc(9));
    assert.equal(await expectOracle(tracker), 9);
    await rm(join(root, 'owner'));
    await mkdir(join(root, 'owner'));
    await writeFile(join(root, 'owner', 'z'), Buffer.alloc(4));
    assert.equal(await expectOracle(tracker), 4);
  });

  test('a file renamed into place from a temp directory, and a directory renamed', async () => {
    const root = await fresh();
    await mkdir(join(root, 'nginx_temp'));
    await mkdir(join(root, 'owner'));
    const tracker = new UsageTracker(root);
    await writeFile(join(root, 'nginx_temp', 't1'), '');
    assert.equal(await expectOracle(tracker), 0);
    // Written in place while already known (fresh, so followed), then renamed into place.
    await truncate(join(root, 'nginx_temp', 't1'), 4096);
    assert.equal(await expectOracle(tracker), 4096);
    await rename(join(root, 'nginx_temp', 't1'), join(root, 'owner', 'obj'));
    assert.equal(await expectOracle(tracker), 4096);
    // Rename over an existing name (same object again: same bytes).
    await writeFile(join(root, 'nginx_temp', 't2'), Buffer.alloc(4096));
    await rename(join(root, 'nginx_temp', 't2'), join(root, 'owner', 'obj'));
    assert.equal(await expectOracle(tracker), 4096);
    await rename(join(root, 'owner'), join(root, 'owner2'));
    assert.equal(await expectOracle(tracker), 4096);
  });

  test('a root that appears later, and disappears', async () => {
    const root = join(base, 'later');
    const tracker = new UsageTracker(root);
    assert.equal(await tracker.poll(), 0);
    await mkdir(join(root, 'v2'), { recursive: true });
    await writeFile(join(root, 'v2', 'o'), Buffer.alloc(33));
    assert.equal(await expectOracle(tracker), 33);
    await rm(root, { recursive: true });
    assert.equal(await tracker.poll(), 0);
    await mkdir(root);
    await writeFile(join(root, 'p'), Buffer.alloc(2));
    assert.equal(await expectOracle(tracker), 2, 'a recreated root is read afresh');
  });

  test('a directory or file removed between readdir and stat', async () => {
    const root = await fresh();
    await mkdir(join(root, 'keep'));
    await mkdir(join(root, 'doomed', 'sub'), { recursive: true });
    await writeFile(join(root, 'keep', 'f'), Buffer.alloc(8));
    await writeFile(join(root, 'keep', 'g'), Buffer.alloc(16));
    await writeFile(join(root, 'doomed', 'sub', 'h'), Buffer.alloc(32));
    const { fs } = countingFs(async (op, path) => {
      // Listed by its parent, gone when read.
      if (op === 'readdir' && path === root) {
        await rm(join(root, 'doomed'), { recursive: true, force: true });
      }
      if (op === 'lstat' && path === join(root, 'keep', 'g')) await rm(path, { force: true });
    });
    const tracker = new UsageTracker(root, { fs });
    assert.equal(await tracker.poll(), 8);
    assert.equal(await expectOracle(tracker), 8);
  });

  test('a directory changed within the timestamp tick of its read is read again', async () => {
    const root = await fresh();
    await writeFile(join(root, 'a'), Buffer.alloc(1));
    // Timestamps frozen at one recent instant, as a coarse clock would show two changes.
    const frozen = BigInt(Date.now()) * 1_000_000n;
    const freeze = <T extends object>(st: T): T =>
      Object.create(st, { mtimeNs: { value: frozen }, ctimeNs: { value: frozen } });
    const fs: UsageFs = {
      stat: async (p, o) => freeze(await stat(p, o)),
      lstat: async (p, o) => freeze(await lstat(p, o)),
      readdir,
    };
    const tracker = new UsageTracker(root, { fs });
    assert.equal(await tracker.poll(), 1);
    await writeFile(join(root, 'b'), Buffer.alloc(2));
    assert.equal(await tracker.poll(), 3, 'same mtime, but too recent to trust');
  });

  test('a poll after a change stats only the new files of the changed directory', async () => {
    const root = await fresh();
    const dirs = ['d0', 'd1', 'd2', 'd3'];
    for (const d of dirs) {
      await mkdir(join(root, d));
      for (let i = 0; i < 50; i += 1) await writeFile(join(root, d, `o${i}`), Buffer.alloc(i));
    }
    await age(root);
    const { fs, calls, reset } = countingFs();
    const tracker = new UsageTracker(root, { fs, nowNs: later });
    await expectOracle(tracker);
    assert.equal(calls.lstat.length, 4 + 200, 'first poll: every directory and file');
    reset();
    await expectOracle(tracker);
    assert.deepEqual(calls.stat, [root]);
    assert.equal(calls.lstat.length, 4, 'unchanged: one lstat per subdirectory');
    assert.deepEqual(calls.readdir, []);
    reset();
    await writeFile(join(root, 'd2', 'new1'), Buffer.alloc(1000));
    await writeFile(join(root, 'd2', 'new2'), Buffer.alloc(2000));
    await rm(join(root, 'd2', 'o7'));
    await expectOracle(tracker);
    assert.deepEqual(calls.readdir, [join(root, 'd2')]);
    const fileStats = calls.lstat.filter((p) => !dirs.some((d) => p === join(root, d)));
    assert.deepEqual(fileStats.sort(), [join(root, 'd2', 'new1'), join(root, 'd2', 'new2')]);
  });

  test('random changes keep matching a full walk', async () => {
    const root = await fresh();
    const tracker = new UsageTracker(root);
    let seed = 42;
    const rand = (k: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % k;
    };
    const pick = () => join(root, `d${rand(4)}`, `e${rand(3)}`);
    for (let step = 0; step < 60; step += 1) {
      for (let op = 0; op < 5; op += 1) {
        const dir = pick();
        const file = join(dir, `f${rand(6)}`);
        const kind = rand(5);
        if (kind <= 1) {
          await mkdir(dir, { recursive: true });
          await writeFile(file, Buffer.alloc(rand(500)));
        } else if (kind === 2) await rm(file, { force: true });
        else if (kind === 3) await rm(dir, { recursive: true, force: true });
        else {
          await mkdir(dir, { recursive: true });
          await writeFile(`${file}.tmp`, Buffer.alloc(rand(500)));
          await rename(`${file}.tmp`, join(pick(), 'x')).catch(() => rm(`${file}.tmp`));
        }
      }
      await expectOracle(tracker, `step ${step}`);
    }
  });
});
