/**
 * Fills a shard database for the discovery benchmark: the `manta` bucket created as the Moray
 * stand-in creates it, then one INSERT ... SELECT over generate_series (no client round trips).
 *
 * Rows 1..N+N/100 in `_id` order: every 101st is a directory, the rest are objects with
 * protocols.md §4.3 records (members in Manta's order, compact JSON) holding 1–3 copies;
 * objects whose row number is a multiple of 4 name the target shark, in any position. Other
 * copies are on `1..100.stor.<domain>` minus the target, so names such as `17.stor...` contain
 * the target's `7.stor...` and a substring pre-filter cannot skip them: realistic work.
 * `_etag` is an md5 prefix of `_value` (discovery only carries it; it is not Moray's crc).
 */
import type { Database } from '../../src/db/index.ts';
import { createMantaBuckets } from '../../src/sandbox/moray/index.ts';

export const DOMAIN = 'east.joyent.us';
export const TARGET_SHARK = `7.stor.${DOMAIN}`;

export interface FillResult {
  readonly objects: number;
  readonly onShark: number;
  readonly directories: number;
}

/** `objects` must be a multiple of 400 so that exactly a quarter lands on the shark. */
export async function fillShard(db: Database, objects: number): Promise<FillResult> {
  if (!(Number.isSafeInteger(objects) && objects > 0 && objects % 400 === 0)) {
    throw new RangeError(`objects must be a positive multiple of 400: ${objects}`);
  }
  await createMantaBuckets(db);
  const directories = objects / 100;
  const rows = objects + directories;
  // In 10 slices so each statement stays a few seconds and progress can be seen.
  const slice = rows / 10;
  for (let from = 1; from <= rows; from += slice) {
    await db.query(FILL, [from, Math.min(rows, from + slice - 1)]);
  }
  await db.query(`SELECT setval('manta_serial', (SELECT max(_id) FROM manta))`);
  await db.query('ANALYZE manta');
  const { rows: counts } = await db.query<{ objects: string; directories: string; on: string }>(
    `SELECT count(*) FILTER (WHERE type = 'object') AS objects,
            count(*) FILTER (WHERE type = 'directory') AS directories,
            count(*) FILTER (WHERE type = 'object' AND _value LIKE $1) AS on
       FROM manta`,
    [`%"manta_storage_id":"${TARGET_SHARK}"%`],
  );
  const c = counts[0];
  const result = {
    objects: Number(c?.objects),
    directories: Number(c?.directories),
    onShark: Number(c?.on),
  };
  if (result.objects !== objects || result.onShark !== objects / 4) {
    throw new Error(`fill produced ${JSON.stringify(result)}, expected ${objects} objects`);
  }
  return result;
}

/** $1..$2: row numbers. The row number becomes `_id` (the serial is advanced past them). */
const FILL = `
WITH r AS (
  SELECT j,
         j % 101 = 0 AS dir,
         md5(j::text) AS h,
         'ffffffff-0000-4000-8000-' || lpad(((j % 8) + 1)::text, 12, '0') AS owner
    FROM generate_series($1::bigint, $2::bigint) AS j
), k AS (
  SELECT r.*,
         '/' || owner || '/stor/bench/d' || (j / 1000) AS dirname,
         CASE WHEN dir THEN 'd' || j ELSE 'o' || substr(h, 1, 8) || '.log' END AS name,
         substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-' || substr(h, 13, 4) || '-' ||
           substr(h, 17, 4) || '-' || substr(h, 21, 12) AS oid,
         (j % 1024) AS vnode
    FROM r
), v AS MATERIALIZED (
  SELECT k.*,
         dirname || '/' || name AS key,
         CASE WHEN dir THEN
           '{"dirname":"' || dirname || '","key":"' || dirname || '/' || name ||
           '","headers":{},"mtime":' || (1570611723062 + j) || ',"name":"' || name ||
           '","creator":"' || owner || '","owner":"' || owner ||
           '","roles":[],"type":"directory","vnode":' || vnode || '}'
         ELSE
           '{"dirname":"' || dirname || '","key":"' || dirname || '/' || name ||
           '","headers":' ||
             CASE WHEN j % 7 = 0 THEN '{"m-source":"bench","Cache-Control":"no-cache"}' ELSE '{}' END ||
           ',"mtime":' || (1570611723062 + j) || ',"name":"' || name ||
           '","creator":"' || owner || '","owner":"' || owner ||
           '","roles":[],"type":"object","contentLength":' || (j * 7919 % 10000000) ||
           ',"contentMD5":"L9NrIZXTY37AYVZN9+gZ7w==","contentType":"text/plain","etag":"' || oid ||
           '","objectId":"' || oid || '","sharks":[' || (
             SELECT string_agg(
                      '{"datacenter":"ruidc' || (s % 3) || '","manta_storage_id":"' || s || '.stor.${DOMAIN}"}',
                      ',' ORDER BY slot)
               FROM (
                 SELECT slot,
                        CASE
                          WHEN j % 4 = 0 AND slot = (j / 12) % (1 + j % 3) THEN 7
                          WHEN 1 + (j * 31 + slot * 37) % 100 = 7 THEN 107
                          ELSE 1 + (j * 31 + slot * 37) % 100
                        END AS s
                   FROM generate_series(0, (j % 3)::int) AS slot
               ) AS copies
           ) || '],"vnode":' || vnode || '}'
         END AS value
    FROM k
)
INSERT INTO manta (_id, _key, _value, _etag, _mtime, _vnode, dirname, name, owner, objectid, type)
SELECT j, key, value, upper(substr(md5(value), 1, 8)), 1570611723074 + j, vnode, dirname, name,
       owner, CASE WHEN dir THEN NULL ELSE oid END, CASE WHEN dir THEN 'directory' ELSE 'object' END
  FROM v
`;
