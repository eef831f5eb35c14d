/**
 * The agent's SQLite schema, as numbered migrations applied in order at open. The database's
 * `PRAGMA user_version` is the last migration applied; each migration runs in one transaction
 * with the bump of user_version, so a crash leaves the database at one version or the next.
 * A released migration's text never changes: a change to the schema is a new migration.
 */
import type Database from 'better-sqlite3';
import { SchemaVersionError } from './errors.ts';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly statements: readonly string[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    // The schema as released before versioning. Databases of that time have user_version 0
    // and these tables already: IF NOT EXISTS lets migration 1 adopt them as they are.
    name: 'assignments and tasks',
    statements: [
      `CREATE TABLE IF NOT EXISTS assignments (
  seq          INTEGER PRIMARY KEY AUTOINCREMENT,
  uuid         TEXT NOT NULL UNIQUE,
  state        TEXT NOT NULL CHECK (state IN ('scheduled', 'running', 'complete')),
  total        INTEGER NOT NULL,
  complete     INTEGER NOT NULL DEFAULT 0,
  failed       INTEGER NOT NULL DEFAULT 0,
  received_at  INTEGER NOT NULL,
  completed_at INTEGER
)`,
      `CREATE INDEX IF NOT EXISTS assignments_completed ON assignments (completed_at)
  WHERE state = 'complete'`,
      `CREATE TABLE IF NOT EXISTS tasks (
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
) WITHOUT ROWID`,
      `CREATE INDEX IF NOT EXISTS tasks_failed ON tasks (assignment_seq, done_seq) WHERE status = 'failed'`,
    ],
  },
];

function schemaVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** Throws SchemaVersionError when a newer agent wrote the database; changes nothing. */
export function assertKnownVersion(
  db: Database.Database,
  migrations: readonly Migration[] = MIGRATIONS,
): void {
  const known = migrations.length === 0 ? 0 : migrations[migrations.length - 1]!.version;
  const found = schemaVersion(db);
  if (found > known) throw new SchemaVersionError(db.name, found, known);
}

/** Applies every migration above the database's user_version; returns the versions applied. */
export function migrate(
  db: Database.Database,
  migrations: readonly Migration[] = MIGRATIONS,
): number[] {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration ${i + 1} is numbered ${m.version}`);
  });
  assertKnownVersion(db, migrations);
  const applied: number[] = [];
  for (const migration of migrations) {
    // IMMEDIATE takes the write lock first, so the version read inside is still current
    // when the migration's statements run, even with another process opening the file.
    const done = db
      .transaction(() => {
        assertKnownVersion(db, migrations);
        if (schemaVersion(db) >= migration.version) return false;
        for (const statement of migration.statements) db.exec(statement);
        db.pragma(`user_version = ${migration.version}`);
        return true;
      })
      .immediate();
    if (done) applied.push(migration.version);
  }
  return applied;
}
