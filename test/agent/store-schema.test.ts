/**
 * The agent store's schema versions: a database written before versioning (user_version 0)
 * is adopted by migration 1 with its rows intact, a fresh one gets the same schema, and one
 * written by a newer agent is refused untouched.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, beforeEach, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { startAgent } from '../../src/agent/agent.ts';
import { AgentStore, SchemaVersionError } from '../../src/agent/store/index.ts';
import { MIGRATIONS, migrate } from '../../src/agent/store/schema.ts';
import type { Task } from '../../src/api/common.ts';
import { pendingTask, silentLog, type TempDirs, tempDirs, testConfig } from './helpers.ts';

/** The schema as released before versioning, verbatim: never edit this fixture. */
const RELEASED_SCHEMA = `
CREATE TABLE IF NOT EXISTS assignments (
  seq          INTEGER PRIMARY KEY AUTOINCREMENT,
  uuid         TEXT NOT NULL UNIQUE,
  state        TEXT NOT NULL CHECK (state IN ('scheduled', 'running', 'complete')),
  total        INTEGER NOT NULL,
  complete     INTEGER NOT NULL DEFAULT 0,
  failed       INTEGER NOT NULL DEFAULT 0,
  received_at  INTEGER NOT NULL,
  completed_at INTEGER
);
CREATE INDEX IF NOT EXISTS assignments_completed ON assignments (completed_at)
  WHERE state = 'complete';
CREATE TABLE IF NOT EXISTS tasks (
  assignment_seq   INTEGER NOT NULL REFERENCES assignments (seq) ON DELETE CASCADE,
  idx              INTEGER NOT NULL,
  object_id        TEXT NOT NULL,
  owner            TEXT NOT NULL,
  md5sum           TEXT NOT NULL,
  datacenter       TEXT NOT NULL,
  manta_storage_id TEXT NOT NULL,
  bucket_id        TEXT,
  object_name_hash TEXT,
  status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'complete', 'failed')),
  reason           TEXT,
  done_seq         INTEGER,
  PRIMARY KEY (assignment_seq, idx)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tasks_failed ON tasks (assignment_seq, done_seq) WHERE status = 'failed';
`;

/** The version the last known migration leaves. */
const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

const dbFile = (dirs: TempDirs): string => join(dirs.stateDir, 'agent.sqlite');

/** Opens the file directly, as the released agent did, runs `fn` and closes it. */
function withRaw<T>(dirs: TempDirs, fn: (db: Database.Database) => T): T {
  const db = new Database(dbFile(dirs));
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** The tables and indexes, with the SQL SQLite keeps for them. */
function schemaOf(db: Database.Database): { type: string; name: string; sql: string }[] {
  return db
    .prepare(
      `SELECT type, name, sql FROM sqlite_master
       WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name`,
    )
    .all() as { type: string; name: string; sql: string }[];
}

/** A database as the released agent left it: one assignment of each state. */
function writeReleasedDatabase(dirs: TempDirs): void {
  withRaw(dirs, (db) => {
    db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    db.exec(RELEASED_SCHEMA);
    const assignment = db.prepare(
      `INSERT INTO assignments (seq, uuid, state, total, complete, failed, received_at,
         completed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const task = db.prepare(
      `INSERT INTO tasks (assignment_seq, idx, object_id, owner, md5sum, datacenter,
         manta_storage_id, bucket_id, object_name_hash, status, reason, done_seq)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const t = (n: number) => {
      const p = pendingTask(n);
      return [p.object_id, p.owner, p.md5sum, p.source.datacenter, p.source.manta_storage_id];
    };
    assignment.run(1, 'done', 'complete', 3, 3, 2, 1000, 2000);
    task.run(1, 0, ...t(1), null, null, 'failed', '"MD5Mismatch"', 2);
    task.run(1, 1, ...t(2), null, null, 'complete', null, 1);
    task.run(1, 2, ...t(3), null, null, 'failed', '{"HTTPStatusCode":500}', 3);
    assignment.run(2, 'busy', 'running', 2, 1, 0, 3000, null);
    task.run(2, 0, ...t(4), null, null, 'complete', null, 1);
    task.run(2, 1, ...t(5), 'bucket-1', 'hash-1', 'pending', null, null);
    assignment.run(3, 'queued', 'scheduled', 1, 0, 0, 4000, null);
    task.run(3, 0, ...t(6), null, null, 'pending', null, null);
  });
}

describe('agent store schema versions', () => {
  let dirs: TempDirs;
  const open = () => new AgentStore({ stateDir: dirs.stateDir, log: silentLog });

  beforeEach(async () => {
    await dirs?.cleanup();
    dirs = await tempDirs();
  });
  after(async () => {
    await dirs.cleanup();
  });

  test('a database of the released agent is migrated and keeps its rows', async () => {
    writeReleasedDatabase(dirs);
    const released = withRaw(dirs, (db) => {
      assert.equal(db.pragma('user_version', { simple: true }), 0);
      return schemaOf(db);
    });

    const store = open();
    try {
      const done = store.get('done')!;
      assert.deepEqual(
        { ...done, seq: undefined },
        {
          seq: undefined,
          uuid: 'done',
          state: 'complete',
          total: 3,
          complete: 3,
          failed: 2,
          receivedAt: 1000,
          completedAt: 2000,
        },
      );
      assert.deepEqual(store.describe(done).stats.state, {
        Complete: [
          { ...pendingTask(1), status: { Failed: 'MD5Mismatch' } },
          { ...pendingTask(3), status: { Failed: { HTTPStatusCode: 500 } } },
        ],
      });
      assert.deepEqual(
        store.resumeUnfinished().map((r) => [r.uuid, r.state, r.complete]),
        [
          ['busy', 'scheduled', 1],
          ['queued', 'scheduled', 0],
        ],
      );
      const busy = store.get('busy')!;
      assert.deepEqual(store.pendingTasks(busy.seq, -1, 10), [
        {
          assignmentSeq: busy.seq,
          idx: 1,
          task: { ...pendingTask(5), bucket_id: 'bucket-1', object_name_hash: 'hash-1' },
        },
      ]);
      // The old rows take new writes: an outcome, a completion, and a new assignment.
      await store.recordOutcome(busy.seq, 1, 'SourceObjectNotFound');
      assert.equal(store.completeAssignment(busy.seq), 0);
      assert.deepEqual(store.describe(store.get('busy')!).stats, {
        state: {
          Complete: [
            {
              ...pendingTask(5),
              bucket_id: 'bucket-1',
              object_name_hash: 'hash-1',
              status: { Failed: 'SourceObjectNotFound' },
            },
          ],
        },
        failed: 1,
        complete: 2,
        total: 2,
      });
      const fresh = store.createAssignment('new', [pendingTask(7)], 1);
      assert.ok(fresh.seq > 3, 'sequence numbers continue after the old rows');
      assert.equal(store.deleteCompletedBefore(2500), 1, 'the old completed one expires');
    } finally {
      await store.close();
    }

    withRaw(dirs, (db) => {
      assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
      if (SCHEMA_VERSION === 1) assert.deepEqual(schemaOf(db), released, 'adopted as it was');
    });
  });

  test('a fresh database gets every migration, the same schema as the released one', async () => {
    const store = open();
    const tasks: Task[] = [pendingTask(1), pendingTask(2)];
    const row = store.createAssignment('a', tasks, tasks.length);
    await store.recordOutcome(row.seq, 0, 'MD5Mismatch');
    await store.close();

    const fresh = withRaw(dirs, (db) => {
      assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      return schemaOf(db);
    });
    assert.equal(SCHEMA_VERSION, MIGRATIONS.length);
    if (SCHEMA_VERSION === 1) {
      const releasedDirs = await tempDirs();
      try {
        writeReleasedDatabase(releasedDirs);
        assert.deepEqual(fresh, withRaw(releasedDirs, schemaOf));
      } finally {
        await releasedDirs.cleanup();
      }
    }

    // Reopening applies nothing again and keeps the rows.
    const again = open();
    try {
      assert.equal(again.get('a')!.complete, 1);
      assert.deepEqual(
        again.pendingTasks(row.seq, -1, 10).map((t) => t.idx),
        [1],
      );
    } finally {
      await again.close();
    }
    withRaw(dirs, (db) =>
      assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION),
    );
  });

  test('a database of a newer agent is refused with a typed error and left untouched', async () => {
    const future = SCHEMA_VERSION + 1;
    withRaw(dirs, (db) => {
      db.exec('CREATE TABLE future_things (id INTEGER PRIMARY KEY)');
      db.pragma(`user_version = ${future}`);
    });

    assert.throws(open, (err: unknown) => {
      assert.ok(err instanceof SchemaVersionError);
      assert.equal(err.code, 'schema_too_new');
      assert.equal(err.found, future);
      assert.equal(err.known, SCHEMA_VERSION);
      assert.equal(err.file, dbFile(dirs));
      assert.match(err.message, new RegExp(`schema version ${future}, newer than the`));
      return true;
    });
    // The agent itself does not start on it.
    await assert.rejects(startAgent(testConfig(dirs)), SchemaVersionError);

    withRaw(dirs, (db) => {
      assert.equal(db.pragma('user_version', { simple: true }), future);
      assert.equal(db.pragma('journal_mode', { simple: true }), 'delete', 'not switched to WAL');
      assert.deepEqual(
        schemaOf(db).map((o) => o.name),
        ['future_things'],
      );
    });
  });

  test('a migration that fails leaves the database at the version before it', () => {
    withRaw(dirs, (db) => {
      const broken = [
        ...MIGRATIONS,
        {
          version: MIGRATIONS.length + 1,
          name: 'broken',
          statements: ['CREATE TABLE half_done (a INTEGER)', 'CREATE TABLE assignments (b)'],
        },
      ];
      assert.throws(() => migrate(db, broken), /already exists/);
      assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
      const names = schemaOf(db).map((o) => o.name);
      assert.ok(names.includes('assignments') && !names.includes('half_done'), names.join());
      assert.deepEqual(migrate(db), [], 'the known migrations are all applied');
    });
  });

  test('migrations must be numbered 1, 2, 3… in order', () => {
    withRaw(dirs, (db) => {
      assert.throws(
        () => migrate(db, [{ version: 2, name: 'gap', statements: [] }]),
        /migration 1 is numbered 2/,
      );
      assert.equal(db.pragma('user_version', { simple: true }), 0);
    });
  });
});
