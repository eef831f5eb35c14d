/**
 * PostgreSQL's CPU split by database: the manager's store apart from the Moray shards' tables,
 * which bench/support/proc.ts postgresCpuSeconds (every PostgreSQL process of the machine)
 * cannot tell apart. Backends are matched to databases through pg_stat_activity at the start
 * and the end of the job; a backend's CPU is its /proc time. A backend that exited meanwhile
 * (pools keep theirs: few do) and other databases' work fall into `other`.
 */
import pg from 'pg';
import { cpuSeconds } from '../support/proc.ts';

export interface PgBackends {
  /** Backend pid → its database. */
  databases: Map<number, string>;
  /** Backend pid → CPU seconds so far. */
  cpu: Map<number, number>;
}

export async function pgBackends(adminUrl: string): Promise<PgBackends> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number; datname: string }>(
      'SELECT pid, datname FROM pg_stat_activity WHERE datname IS NOT NULL AND pid <> pg_backend_pid()',
    );
    const databases = new Map<number, string>();
    const cpu = new Map<number, number>();
    for (const { pid, datname } of rows) {
      try {
        cpu.set(pid, cpuSeconds(pid));
        databases.set(pid, datname);
      } catch {
        // Exited since the query, or another user's process /proc does not show: not counted.
      }
    }
    return { databases, cpu };
  } finally {
    await client.end();
  }
}

/** The name of the database a postgres:// URL names. */
export const databaseOf = (url: string): string => new URL(url).pathname.slice(1);

/** CPU seconds between two snapshots by group (`groups`: database → group name). */
export function pgCpuByGroup(
  before: PgBackends,
  after: PgBackends,
  groups: ReadonlyMap<string, string>,
  totalSeconds: number,
): Record<string, number> {
  const out: Record<string, number> = {};
  let matched = 0;
  for (const [pid, db] of after.databases) {
    const group = groups.get(db);
    if (group === undefined) continue;
    // Started during the job: all its time is the job's.
    const spent = (after.cpu.get(pid) ?? 0) - (before.cpu.get(pid) ?? 0);
    out[group] = (out[group] ?? 0) + spent;
    matched += spent;
  }
  out.other = Math.max(0, totalSeconds - matched);
  return out;
}

/** Transactions committed (single statements included) and rows written, by database. */
export async function pgActivity(
  adminUrl: string,
  databases: readonly string[],
): Promise<Map<string, { commits: number; rows: number }>> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string; commits: string; written: string }>(
      `SELECT datname, xact_commit AS commits, tup_inserted + tup_updated + tup_deleted AS written
         FROM pg_stat_database WHERE datname = ANY($1::text[])`,
      [databases],
    );
    return new Map(
      rows.map((r) => [r.datname, { commits: Number(r.commits), rows: Number(r.written) }]),
    );
  } finally {
    await client.end();
  }
}
