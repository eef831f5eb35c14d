/**
 * Filter → SQL, as Moray's compileQuery/buildWhereClause (spec/protocols.md §3.7.2): leaves on
 * indexed fields and on `_id`, `_txn_snap`, `_mtime`, `_etag`, `_key` become parameterised SQL;
 * other leaves produce no SQL and are enforced only by the JavaScript re-check (§3.7.3).
 */
import type { RpcError } from '../../fast/index.ts';
import type { Bucket } from './buckets.ts';
import { invalidQuery, notIndexed } from './errors.ts';
import { type Filter, filterAttributes, filterToString, type ValueConverter } from './filter.ts';
import type { MorayOptions, SortSpec } from './validate.ts';

const NUMERIC_INTERNAL = new Set(['_id', '_txn_snap', '_mtime']);
const STRING_INTERNAL = new Set(['_etag', '_key']);
/** Fields every record carries besides its value (copied in for the JS re-check). */
export const INTERNAL_FIELDS = new Set(['_id', '_txn_snap', '_etag', '_key', '_mtime', '_count']);

interface Resolved {
  /** SQL parameter; undefined when the attribute has no column to filter on. */
  value: unknown;
  column: string;
  arrayPg?: string;
}

function resolve(bucket: Bucket, attribute: string, raw: string): Resolved {
  const field = bucket.byKey.get(attribute);
  if (field) {
    return {
      value: field.type.scalar.fromFilter(raw),
      column: field.key,
      arrayPg: field.type.array ? field.type.pg : undefined,
    };
  }
  if (NUMERIC_INTERNAL.has(attribute)) return { value: Number(raw), column: attribute };
  if (STRING_INTERNAL.has(attribute)) return { value: raw, column: attribute };
  return { value: undefined, column: attribute };
}

/** The JS comparand of a filter value: converted like the SQL parameter, else the raw string. */
export function converterFor(bucket: Bucket): ValueConverter {
  return (attribute, raw) => {
    const r = resolve(bucket, attribute, raw);
    return r.value === undefined ? raw : r.value;
  };
}

function compile(bucket: Bucket, f: Filter, args: unknown[]): string {
  const leaf = (attribute: string, sqlOp: string, value: string): string => {
    const r = resolve(bucket, attribute, value);
    if (r.value === undefined) return '';
    args.push(r.value);
    const n = args.length;
    if (r.arrayPg !== undefined) {
      return sqlOp === '='
        ? ` ( ${r.column} @> ARRAY[$${n}]::${r.arrayPg} ) `
        : ` ( $${n} ${sqlOp} ANY(${r.column}) ) `;
    }
    return ` ( $${n} ${sqlOp} ${r.column} AND ${r.column} IS NOT NULL ) `;
  };
  switch (f.type) {
    case 'and': {
      const parts = f.filters.map((sub) => compile(bucket, sub, args)).filter((s) => s !== '');
      if (parts.length === 0) throw notIndexed(bucket.name, filterToString(f));
      return parts.map((p) => ` (${p}) `).join('AND');
    }
    case 'or': {
      const parts = f.filters.map((sub) => {
        const s = compile(bucket, sub, args);
        if (s === '') throw notIndexed(bucket.name, filterToString(f));
        return s;
      });
      return parts.map((p) => ` (${p}) `).join('OR');
    }
    case 'not': {
      const inner = compile(bucket, f.filter, args);
      return inner === '' ? '' : ` NOT (${inner})`;
    }
    case 'present':
      return bucket.byKey.has(f.attribute) ? `${f.attribute} IS NOT NULL` : '';
    case 'equal':
      return leaf(f.attribute, '=', f.value);
    case 'ge':
      return leaf(f.attribute, '<=', f.value);
    case 'le':
      return leaf(f.attribute, '>=', f.value);
    case 'substring': {
      const field = bucket.byKey.get(f.attribute);
      if (!field && !NUMERIC_INTERNAL.has(f.attribute) && !STRING_INTERNAL.has(f.attribute)) {
        return '';
      }
      if (field?.type.array) throw notIndexed(bucket.name, filterToString(f));
      // As Moray: the final part is not anchored in SQL; the JS re-check enforces it.
      let pattern = f.initial === '' ? '' : `${f.initial}%`;
      for (const any of f.any) pattern += `%${any}%`;
      if (f.final !== '') pattern += `%${f.final}%`;
      args.push(pattern);
      return ` ( ${f.attribute} LIKE $${args.length} AND ${f.attribute} IS NOT NULL ) `;
    }
  }
}

/**
 * True when every row the filter's SQL selects also passes the JavaScript re-check (§3.7.3),
 * for records whose indexed members are exactly their column values (record-json.ts): `&` and
 * `|` of equality on `string` indexes, `_id`, `_mtime` and `_key`, ranges on `_id` and
 * `_mtime`, and presence of an index. Text equality in PostgreSQL is byte equality, as `===`;
 * `_etag` (CHAR(8), blank-padded comparison), other index types, ranges on strings (collation)
 * and everything else keep the re-check.
 */
export function sqlImpliesFilter(bucket: Bucket, f: Filter): boolean {
  switch (f.type) {
    case 'and':
    case 'or':
      return f.filters.every((sub) => sqlImpliesFilter(bucket, sub));
    case 'present':
      return bucket.byKey.has(f.attribute);
    case 'equal': {
      const field = bucket.byKey.get(f.attribute);
      if (field) return field.type.name === 'string';
      return f.attribute === '_id' || f.attribute === '_mtime' || f.attribute === '_key';
    }
    case 'ge':
    case 'le':
      return !bucket.byKey.has(f.attribute) && (f.attribute === '_id' || f.attribute === '_mtime');
    default:
      return false;
  }
}

export interface Where {
  /** `WHERE ...[ ORDER BY ...][ LIMIT n][ OFFSET m]` */
  clause: string;
  args: unknown[];
}

const IDENTIFIER = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** NotIndexedError for `requireIndexes` when the filter names a field without an index. */
export function checkIndexes(bucket: Bucket, f: Filter, filterText: string): RpcError | undefined {
  const unindexed = [...filterAttributes(f)].filter(
    (a) => !bucket.byKey.has(a) && !INTERNAL_FIELDS.has(a),
  );
  if (unindexed.length === 0) return undefined;
  const err = notIndexed(bucket.name, filterText);
  err.message += `. Reindexing fields: []. Unindexed fields: ${JSON.stringify(unindexed)}`;
  return err;
}

export function buildWhere(
  bucket: Bucket,
  f: Filter,
  options: MorayOptions,
  filterText: string,
): Where {
  const args: unknown[] = [];
  const sql = compile(bucket, f, args);
  if (sql === '') throw invalidQuery(filterText);
  let clause = `WHERE ${sql}`;
  if (options.sort) {
    const sorts: SortSpec[] = Array.isArray(options.sort) ? options.sort : [options.sort];
    const parts: string[] = [];
    for (const item of sorts) {
      if (!item.attribute) continue;
      // Moray inlines the attribute; only identifiers are let through here.
      if (!IDENTIFIER.test(item.attribute)) throw invalidQuery(filterText);
      parts.push(item.order ? `${item.attribute} ${item.order}` : item.attribute);
    }
    if (parts.length > 0) clause += ` ORDER BY ${parts.join(', ')}`;
  }
  // Truthiness as in Moray: a limit of 0 means the default, the string "0" means LIMIT 0.
  if (options.limit) clause += ` LIMIT ${options.limit}`;
  else if (!options.noLimit) clause += ' LIMIT 1000';
  if (options.offset) clause += ` OFFSET ${options.offset}`;
  return { clause, args };
}
