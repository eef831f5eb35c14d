/**
 * PGlite data directories filled from templates: a working cluster without initdb, the
 * manager's with every migration applied, an existing cluster left alone.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { PgliteDatabase } from '../../src/db/pglite.ts';
import { MIGRATIONS, migrate } from '../../src/manager/store/index.ts';
import { MANAGER_TEMPLATE, seedPgliteDataDir } from '../../src/sandbox/pglite-template.ts';

let root: string;
const savedTmp = process.env.TMPDIR;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'pglite-template-test-'));
  // Templates are made afresh under this test's own temporary directory.
  process.env.TMPDIR = join(root, 'tmp');
  await mkdir(process.env.TMPDIR);
});
after(async () => {
  if (savedTmp === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = savedTmp;
  await rm(root, { recursive: true, force: true });
});

test('a data directory from the bare template is a working cluster', async () => {
  const dir = join(root, 'bare');
  await mkdir(dir);
  await seedPgliteDataDir(dir);
  const db = await PgliteDatabase.open(dir);
  try {
    await db.query('CREATE TABLE t (v int)');
    await db.query('INSERT INTO t VALUES (1)');
    assert.equal((await db.query('SELECT count(*)::int AS n FROM t')).rows[0]?.n, 1);
  } finally {
    await db.close();
  }
});

test("the manager's template has every migration applied; a seeded directory is left alone", async () => {
  const dir = join(root, 'manager');
  await mkdir(dir);
  await seedPgliteDataDir(dir, MANAGER_TEMPLATE);
  let db = await PgliteDatabase.open(dir);
  try {
    assert.deepEqual(await migrate(db), [], 'nothing left to apply');
    const { rows } = await db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM schema_migrations',
    );
    assert.equal(rows[0]?.n, MIGRATIONS.length);
    await db.query('CREATE TABLE mine (v int)');
  } finally {
    await db.close();
  }
  await seedPgliteDataDir(dir, MANAGER_TEMPLATE);
  db = await PgliteDatabase.open(dir);
  try {
    await db.query('SELECT * FROM mine');
  } finally {
    await db.close();
  }
});
