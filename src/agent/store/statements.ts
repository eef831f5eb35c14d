/** Every SQL statement the agent store runs, prepared once per open database. */
import type Database from 'better-sqlite3';

export function prepareStatements(db: Database.Database) {
  return {
    insertAssignment: db.prepare(
      `INSERT INTO assignments (uuid, state, total, received_at)
       VALUES (?, 'scheduled', ?, ?) RETURNING seq`,
    ),
    insertTask: db.prepare(
      `INSERT INTO tasks (assignment_seq, idx, object_id, owner, md5sum, datacenter,
         manta_storage_id, bucket_id, object_name_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    byUuid: db.prepare('SELECT * FROM assignments WHERE uuid = ?'),
    unfinished: db.prepare(`SELECT * FROM assignments WHERE state != 'complete' ORDER BY seq`),
    requeue: db.prepare(`UPDATE assignments SET state = 'scheduled' WHERE state = 'running'`),
    pendingTasks: db.prepare(
      `SELECT * FROM tasks WHERE assignment_seq = ? AND idx > ? AND status = 'pending'
       ORDER BY idx LIMIT ?`,
    ),
    failedPage: db.prepare(
      `SELECT * FROM tasks WHERE assignment_seq = ? AND status = 'failed' AND done_seq > ?
       ORDER BY done_seq LIMIT ?`,
    ),
    markRunning: db.prepare(
      `UPDATE assignments SET state = 'running' WHERE seq = ? AND state = 'scheduled'`,
    ),
    bumpCounters: db.prepare(
      `UPDATE assignments SET complete = complete + 1, failed = failed + ?
       WHERE seq = ? AND state != 'complete' RETURNING complete`,
    ),
    setOutcome: db.prepare(
      `UPDATE tasks SET status = ?, reason = ?, done_seq = ?
       WHERE assignment_seq = ? AND idx = ? AND status = 'pending'`,
    ),
    failPending: db.prepare(
      `UPDATE tasks SET status = 'failed', reason = ?, done_seq = ?
       WHERE assignment_seq = ? AND idx = ?`,
    ),
    pendingIdx: db.prepare(
      `SELECT idx FROM tasks WHERE assignment_seq = ? AND status = 'pending' ORDER BY idx`,
    ),
    complete: db.prepare(
      `UPDATE assignments SET state = 'complete', completed_at = ?,
         complete = complete + ?, failed = failed + ?
       WHERE seq = ? AND state != 'complete'`,
    ),
    counters: db.prepare('SELECT complete FROM assignments WHERE seq = ?'),
    deleteBySeq: db.prepare('DELETE FROM assignments WHERE seq = ?'),
    expired: db.prepare(
      `SELECT seq FROM assignments WHERE state = 'complete' AND completed_at < ? LIMIT 100`,
    ),
  };
}

export type Statements = ReturnType<typeof prepareStatements>;
