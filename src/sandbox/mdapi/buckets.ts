/**
 * The bucket RPCs of the stand-in over `manta_bucket_<vnode>.manta_bucket`, and the
 * discovery RPCs of the MANTA-5484 mdapi fork (`listvnodes`, `listowners`), which the real
 * production server lacks and the stand-in answers only when told to.
 */
import { randomUUID } from 'node:crypto';
import type { Database, Row } from '../../db/index.ts';
import type { Bucket, BucketKeyPayload, ListBucketsPayload } from '../../mdapi/index.ts';
import {
  bucketAlreadyExists,
  bucketNotFound,
  MdapiAppError,
  missingVnode,
  postgresError,
} from './errors.ts';
import { formatTimestamp } from './rows.ts';
import { vnodeSchemaName, vnodeTable } from './schema.ts';

const TABLE = 'manta_bucket';
const SELECT = `id, owner, name, to_char(created AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS created`;

function bucket(row: Row): Bucket {
  return {
    id: String(row.id),
    owner: String(row.owner),
    name: String(row.name),
    created: formatTimestamp(String(row.created)),
  };
}

export class BucketStore {
  constructor(
    private readonly db: Database,
    private readonly hosts: (vnode: number) => boolean,
    /** The vnodes the shard hosts. */
    private readonly vnodes: readonly number[],
  ) {}

  async create(p: BucketKeyPayload): Promise<Bucket> {
    const rows = await this.query(
      p.vnode,
      `INSERT INTO ${vnodeTable(p.vnode, TABLE)} (id, owner, name) VALUES ($1, $2, $3)
       ON CONFLICT DO NOTHING RETURNING ${SELECT}`,
      [randomUUID(), p.owner, p.name],
    );
    if (rows.length === 0) throw bucketAlreadyExists();
    return bucket(rows[0] as Row);
  }

  async get(p: BucketKeyPayload): Promise<Bucket> {
    const rows = await this.query(
      p.vnode,
      `SELECT ${SELECT} FROM ${vnodeTable(p.vnode, TABLE)} WHERE owner = $1 AND name = $2`,
      [p.owner, p.name],
    );
    if (rows.length === 0) throw bucketNotFound();
    return bucket(rows[0] as Row);
  }

  async list(p: ListBucketsPayload): Promise<Bucket[]> {
    const where = ['owner = $1'];
    const params: unknown[] = [p.owner];
    if (typeof p.prefix === 'string') {
      params.push(`${p.prefix}%`);
      where.push(`name LIKE $${params.length}`);
    }
    if (typeof p.marker === 'string') {
      params.push(p.marker);
      where.push(`name > $${params.length}`);
    }
    const rows = await this.query(
      p.vnode,
      `SELECT ${SELECT} FROM ${vnodeTable(p.vnode, TABLE)} WHERE ${where.join(' AND ')}
       ORDER BY name ASC LIMIT ${p.limit}`,
      params,
    );
    return rows.map(bucket);
  }

  /** `{vnodes}` in schema-name order, as the fork lists them (`manta_bucket_10` first). */
  listVnodes(): { vnodes: number[] } {
    const byName = [...this.vnodes].sort((a, b) =>
      vnodeSchemaName(a) < vnodeSchemaName(b) ? -1 : 1,
    );
    return { vnodes: byName };
  }

  /** `{owners}`: the distinct owners of the vnode's buckets. */
  async listOwners(vnode: number): Promise<{ owners: string[] }> {
    if (!this.hosts(vnode)) {
      throw new MdapiAppError(
        'PostgresError',
        `vnode ${vnode} does not exist on this mdapi instance`,
      );
    }
    const rows = await this.query(
      vnode,
      `SELECT DISTINCT owner FROM ${vnodeTable(vnode, TABLE)}`,
      [],
    );
    return { owners: rows.map((r) => String(r.owner)) };
  }

  private async query(vnode: number, sql: string, params: unknown[]): Promise<Row[]> {
    if (!this.hosts(vnode)) throw missingVnode(vnode, TABLE);
    try {
      return (await this.db.query(sql, params)).rows;
    } catch (err) {
      throw postgresError(err);
    }
  }
}
