/**
 * The object RPCs of the stand-in over `manta_bucket_<vnode>.manta_bucket_object` with the
 * semantics of buckets-mdapi (peers.md §3.3): `updateobject` changes a row only while it has
 * the given id and keeps its sharks when none are given (COALESCE); conditions are checked
 * in the same transaction; `createobject` replaces an existing row (new id) and, like
 * `deleteobject`, first copies a row with data to `manta_bucket_deleted_object`.
 */
import { type Database, DatabaseError, type Queryable, type Row } from '../../db/index.ts';
import type {
  CreateObjectPayload,
  DeletedObject,
  ListObjectsPayload,
  ObjectKeyPayload,
  ObjectResponse,
  UpdateObjectPayload,
} from '../../mdapi/index.ts';
import {
  type ConditionTarget,
  checkConditions,
  isConditional,
  type ParsedConditions,
} from './conditions.ts';
import { MdapiAppError, missingVnode, objectNotFound, postgresError } from './errors.ts';
import { hstoreParams, jsonbParam, OBJECT_SELECT, objectResponse, sharksParam } from './rows.ts';
import { vnodeTable } from './schema.ts';

const TABLE = 'manta_bucket_object';

/** The rows of a list request: name order, after the marker, under the prefix. */
function listSql(vnode: number, limit: number, prefix: boolean, marker: boolean): string {
  const where = ['owner = $1', 'bucket_id = $2'];
  if (prefix) where.push(`name LIKE $${where.length + 1}`);
  if (marker) where.push(`name > $${where.length + 1}`);
  return `SELECT ${OBJECT_SELECT} FROM ${vnodeTable(vnode, TABLE)} WHERE ${where.join(' AND ')} ORDER BY name ASC LIMIT ${limit}`;
}

/** Copies the row, when it has data, to the deleted-objects table (for garbage collection). */
function moveToDeletedSql(vnode: number): string {
  return `INSERT INTO ${vnodeTable(vnode, 'manta_bucket_deleted_object')}
    (id, owner, bucket_id, name, created, modified, content_length, content_md5, content_type,
     headers, sharks, properties)
    SELECT id, owner, bucket_id, name, created, modified, content_length, content_md5,
      content_type, headers, sharks, properties
    FROM ${vnodeTable(vnode, TABLE)}
    WHERE owner = $1 AND bucket_id = $2 AND name = $3 AND content_length > 0`;
}

function updateSql(vnode: number): string {
  return `UPDATE ${vnodeTable(vnode, TABLE)}
    SET content_type = $1, headers = hstore($2::text[], $3::text[]),
      sharks = COALESCE($4::text[], sharks), properties = $5::jsonb,
      modified = current_timestamp
    WHERE owner = $6 AND bucket_id = $7 AND name = $8 AND id = $9
    RETURNING ${OBJECT_SELECT}`;
}

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The digest bytes of `content_md5`, or ContentMd5Error worded as the server's decoder. */
function md5Bytes(text: string): Buffer {
  if (!BASE64_RE.test(text)) {
    const at = [...text].findIndex((ch) => !/[A-Za-z0-9+/=]/.test(ch));
    const why =
      at >= 0
        ? `Invalid byte ${text.charCodeAt(at)}, offset ${at}.`
        : 'Encoded text cannot have a 6-bit remainder.';
    throw new MdapiAppError(
      'ContentMd5Error',
      `content_md5 is not valid base64 encoded data: ${why}`,
    );
  }
  return Buffer.from(text, 'base64');
}

export class ObjectStore {
  constructor(
    private readonly db: Database,
    private readonly hosts: (vnode: number) => boolean,
  ) {}

  async get(p: ObjectKeyPayload, c: ParsedConditions): Promise<ObjectResponse> {
    const row = await this.read(this.db, p);
    if (!row) throw objectNotFound();
    const error = checkConditions(c, conditionTarget(row));
    if (error) throw error;
    return objectResponse(row);
  }

  update(p: UpdateObjectPayload, c: ParsedConditions): Promise<ObjectResponse> {
    return this.inTransaction(p.vnode, async (tx) => {
      const row = await this.updateRow(tx, p, c);
      if (!row) throw objectNotFound();
      return objectResponse(row);
    });
  }

  create(p: CreateObjectPayload, c: ParsedConditions): Promise<ObjectResponse> {
    const md5 = md5Bytes(p.content_md5);
    return this.inTransaction(p.vnode, async (tx) => {
      await this.checkCurrent(tx, p, c);
      const key = [p.owner, p.bucket_id, p.name];
      await tx.query(moveToDeletedSql(p.vnode), key);
      const [keys, values] = hstoreParams(p.headers);
      const { rows } = await tx.query(
        `INSERT INTO ${vnodeTable(p.vnode, TABLE)}
          (id, owner, bucket_id, name, content_length, content_md5, content_type, headers,
           sharks, properties)
         VALUES ($1, $2, $3, $4, $5, $6, $7, hstore($8::text[], $9::text[]), $10::text[], $11::jsonb)
         ON CONFLICT (owner, bucket_id, name) DO UPDATE SET id = EXCLUDED.id,
           created = current_timestamp, modified = current_timestamp,
           content_length = EXCLUDED.content_length, content_md5 = EXCLUDED.content_md5,
           content_type = EXCLUDED.content_type, headers = EXCLUDED.headers,
           sharks = EXCLUDED.sharks, properties = EXCLUDED.properties
         RETURNING ${OBJECT_SELECT}`,
        [
          p.id,
          ...key,
          p.content_length,
          md5,
          p.content_type,
          keys,
          values,
          sharksParam(p.sharks),
          jsonbParam(p.properties),
        ],
      );
      return objectResponse(rows[0] as Row);
    });
  }

  delete(p: ObjectKeyPayload, c: ParsedConditions): Promise<DeletedObject[]> {
    return this.inTransaction(p.vnode, async (tx) => {
      await this.checkCurrent(tx, p, c);
      const key = [p.owner, p.bucket_id, p.name];
      await tx.query(moveToDeletedSql(p.vnode), key);
      const { rows } = await tx.query(
        `DELETE FROM ${vnodeTable(p.vnode, TABLE)}
         WHERE owner = $1 AND bucket_id = $2 AND name = $3
         RETURNING id, owner, bucket_id, name, content_length,
           array_length(sharks, 1) AS shark_count`,
        key,
      );
      if (rows.length === 0) throw objectNotFound();
      return rows.map((r) => ({
        id: String(r.id),
        owner: String(r.owner),
        bucket_id: String(r.bucket_id),
        name: String(r.name),
        content_length: Number(r.content_length),
        shark_count: r.shark_count === null ? 0 : Number(r.shark_count),
      }));
    });
  }

  async list(p: ListObjectsPayload): Promise<ObjectResponse[]> {
    if (!this.hosts(p.vnode)) throw missingVnode(p.vnode, TABLE);
    const params: unknown[] = [p.owner, p.bucket_id];
    const hasPrefix = typeof p.prefix === 'string';
    const hasMarker = typeof p.marker === 'string';
    if (hasPrefix) params.push(`${p.prefix}%`);
    if (hasMarker) params.push(p.marker);
    try {
      const { rows } = await this.db.query(listSql(p.vnode, p.limit, hasPrefix, hasMarker), params);
      return rows.map(objectResponse);
    } catch (err) {
      throw postgresError(err);
    }
  }

  /** The row, read with OBJECT_SELECT, or undefined. */
  private async read(
    q: Queryable,
    p: { owner: string; bucket_id: string; name: string; vnode: number },
  ): Promise<Row | undefined> {
    if (!this.hosts(p.vnode)) throw missingVnode(p.vnode, TABLE);
    try {
      const { rows } = await q.query(
        `SELECT ${OBJECT_SELECT} FROM ${vnodeTable(p.vnode, TABLE)}
         WHERE owner = $1 AND bucket_id = $2 AND name = $3`,
        [p.owner, p.bucket_id, p.name],
      );
      return rows[0];
    } catch (err) {
      throw postgresError(err);
    }
  }

  /** Checks conditional requests against the current row (unconditional ones pass). */
  private async checkCurrent(
    tx: Queryable,
    p: { owner: string; bucket_id: string; name: string; vnode: number },
    c: ParsedConditions,
  ): Promise<void> {
    if (!isConditional(c)) return;
    const row = await this.read(tx, p);
    const error = checkConditions(c, row === undefined ? undefined : conditionTarget(row));
    if (error) throw error;
  }

  /** Checks `p`'s conditions and updates its row; undefined when no row has its id. */
  async updateRow(
    tx: Queryable,
    p: UpdateObjectPayload,
    c: ParsedConditions,
  ): Promise<Row | undefined> {
    await this.checkCurrent(tx, p, c);
    const [keys, values] = hstoreParams(p.headers);
    const sharks = p.sharks === undefined || p.sharks === null ? null : sharksParam(p.sharks);
    try {
      const { rows } = await tx.query(
        updateSql(p.vnode),
        [
          p.content_type,
          keys,
          values,
          sharks,
          jsonbParam(p.properties),
          p.owner,
          p.bucket_id,
          p.name,
          p.id,
        ],
        { name: `mdapi_update_${p.vnode}` },
      );
      return rows[0];
    } catch (err) {
      throw postgresError(err);
    }
  }

  /** Runs one statement on the vnode, outside a transaction block (so atomic on its own). */
  async statement(vnode: number, sql: string, params: readonly unknown[]): Promise<void> {
    if (!this.hosts(vnode)) throw missingVnode(vnode, TABLE);
    await this.db.query(sql, params);
  }

  /**
   * Runs `fn` in a transaction on the vnode: whatever it throws rolls it back, and a
   * database failure becomes PostgresError.
   */
  async inTransaction<T>(vnode: number, fn: (tx: Queryable) => Promise<T>): Promise<T> {
    if (!this.hosts(vnode)) throw missingVnode(vnode, TABLE);
    try {
      return await this.db.transaction(fn);
    } catch (err) {
      throw err instanceof DatabaseError ? postgresError(err) : err;
    }
  }
}

/** A row's etag (its id) and modification time, as read with OBJECT_SELECT. */
function conditionTarget(row: Row): ConditionTarget {
  return { id: String(row.id), modified: String(row.modified) };
}
