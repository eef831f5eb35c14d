/**
 * The PostgreSQL layout of a buckets-postgres shard (peers.md §3.1–§3.2): one schema
 * `manta_bucket_<vnode>` per vnode the shard hosts, each with the four tables buckets-mdapi
 * reads and writes. Typed columns: `sharks` is a `text[]` of `"<datacenter>:<storage id>"`,
 * `content_md5` the raw 16-byte digest, `headers` an hstore whose values may be NULL,
 * `properties` any JSON. The stand-in serves from this layout and direct-db discovery scans
 * it, as the rebalancer scans a pgclone of a real shard.
 */
import type { Database } from '../../db/index.ts';

/** Every vnode schema's name starts so; the rest is the vnode number in decimal. */
export const VNODE_SCHEMA_PREFIX = 'manta_bucket_';

/** A vnode number as a schema suffix: a non-negative safe integer, nothing else. */
export function vnodeSchemaName(vnode: number): string {
  if (!Number.isSafeInteger(vnode) || vnode < 0) {
    throw new RangeError(`a vnode is a non-negative integer: ${vnode}`);
  }
  return `${VNODE_SCHEMA_PREFIX}${vnode}`;
}

/** `manta_bucket_<vnode>.<table>`: schema names cannot be query parameters. */
export function vnodeTable(
  vnode: number,
  table:
    | 'manta_bucket'
    | 'manta_bucket_object'
    | 'manta_bucket_deleted_bucket'
    | 'manta_bucket_deleted_object',
): string {
  return `${vnodeSchemaName(vnode)}.${table}`;
}

/** The DDL of one vnode schema; idempotent (IF NOT EXISTS everywhere). */
export function vnodeSchemaDdl(vnode: number): string {
  const schema = vnodeSchemaName(vnode);
  return `
CREATE SCHEMA IF NOT EXISTS ${schema};

CREATE TABLE IF NOT EXISTS ${schema}.manta_bucket (
  id uuid NOT NULL,
  name text NOT NULL,
  owner uuid NOT NULL,
  created timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (owner, name)
);

CREATE TABLE IF NOT EXISTS ${schema}.manta_bucket_deleted_bucket (
  id uuid NOT NULL,
  name text NOT NULL,
  owner uuid NOT NULL,
  created timestamptz NOT NULL,
  deleted_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE IF NOT EXISTS ${schema}.manta_bucket_object (
  id uuid NOT NULL,
  name text NOT NULL,
  owner uuid NOT NULL,
  bucket_id uuid NOT NULL,
  created timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  modified timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  content_length bigint NOT NULL,
  content_md5 bytea NOT NULL,
  content_type text NOT NULL,
  headers hstore,
  sharks text[],
  properties jsonb,
  PRIMARY KEY (owner, bucket_id, name)
);

CREATE TABLE IF NOT EXISTS ${schema}.manta_bucket_deleted_object (
  id uuid NOT NULL,
  name text NOT NULL,
  owner uuid NOT NULL,
  bucket_id uuid NOT NULL,
  created timestamptz NOT NULL,
  modified timestamptz NOT NULL,
  content_length bigint NOT NULL,
  content_md5 bytea NOT NULL,
  content_type text NOT NULL,
  headers hstore,
  sharks text[],
  properties jsonb,
  deleted_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE INDEX IF NOT EXISTS idx_deleted_${vnode}
  ON ${schema}.manta_bucket_deleted_object USING btree (deleted_at);
CREATE INDEX IF NOT EXISTS idx_id_${vnode}
  ON ${schema}.manta_bucket_deleted_object USING btree (id);
`;
}

/**
 * Creates the hstore extension and the schemas of `vnodes` (those missing). On PGlite the
 * database must have been opened with the hstore contrib module (see openMdapiDatabase).
 */
export async function createVnodeSchemas(db: Database, vnodes: Iterable<number>): Promise<void> {
  const ddl = [...vnodes].map(vnodeSchemaDdl).join('\n');
  await db.exec(`CREATE EXTENSION IF NOT EXISTS hstore;\n${ddl}`);
}
