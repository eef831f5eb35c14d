/**
 * Turns one row of the Moray `manta` table (from the `sql` RPC or straight from PostgreSQL)
 * into a discovery event for one shark, or nothing when the row does not concern it.
 */
import { Compile } from 'typebox/compile';
import { MantaObjectValue } from '../manta/index.ts';
import type { DiscoveredObject, ExcludedObject, IdColumn, MalformedRecord } from './types.ts';

const checkValue = Compile(MantaObjectValue);

/**
 * JSON writers leave these as they are (no `"`, `\\` or `/`, which some escape), so a record
 * naming the shark contains its id verbatim, between quotes.
 */
const VERBATIM_IN_JSON = /^[\x20-\x21\x23-\x2e\x30-\x5b\x5d-\x7e]*$/;

export interface RowContext {
  readonly shard: number;
  readonly column: IdColumn;
  readonly shark: string;
  /** `"<shark>"` when the id is written verbatim in JSON (see quotedShark()), for the pre-filter. */
  readonly quotedShark?: string | undefined;
  readonly exclude: (key: string) => string | undefined;
}

/** The pre-filter text for `shark`, or undefined when JSON could write it escaped. */
export function quotedShark(shark: string): string | undefined {
  return VERBATIM_IN_JSON.test(shark) ? `"${shark}"` : undefined;
}

export type RowOutcome = DiscoveredObject | ExcludedObject | MalformedRecord | undefined;

/** The row id of `column` as a decimal string, or undefined when absent/null/not an integer. */
export function rowIdOf(row: Record<string, unknown>, column: IdColumn): string | undefined {
  const v = row[column];
  if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v);
  if (typeof v === 'string' && /^-?[0-9]+$/.test(v)) return v;
  if (typeof v === 'bigint') return v.toString();
  return undefined;
}

export function interpretRow(raw: unknown, ctx: RowContext): RowOutcome {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return malformed(ctx, '', '', 'row is not an object');
  }
  const row = raw as Record<string, unknown>;
  const rowId = rowIdOf(row, ctx.column) ?? '';
  const key = typeof row._key === 'string' ? row._key : '';
  if (key === '') return malformed(ctx, key, rowId, 'field _key is missing or not a string');
  const text = row._value;
  if (typeof text !== 'string') return malformed(ctx, key, rowId, 'field _value is not a string');
  // Cheap pre-filter: most rows do not name the shark and need no JSON parse. Quoted, so that
  // `17.stor…` does not pass for `7.stor…`.
  if (ctx.quotedShark !== undefined && !text.includes(ctx.quotedShark)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return malformed(ctx, key, rowId, `field _value is not JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return malformed(ctx, key, rowId, 'field _value is not a JSON object');
  }
  const sharks = (value as Record<string, unknown>).sharks;
  if (!Array.isArray(sharks)) return malformed(ctx, key, rowId, 'field sharks is not an array');
  let onShark = false;
  for (const s of sharks) {
    if (typeof s !== 'object' || s === null || typeof s.manta_storage_id !== 'string') {
      return malformed(ctx, key, rowId, 'field sharks has an entry without a manta_storage_id');
    }
    if (s.manta_storage_id === ctx.shark) onShark = true;
  }
  if (!onShark) return undefined;
  if (!checkValue.Check(value)) {
    const [first] = checkValue.Errors(value);
    const field = first?.instancePath.replace(/^\//, '').replaceAll('/', '.') || 'record';
    return malformed(ctx, key, rowId, `field ${field} ${first?.message ?? 'is invalid'}`);
  }
  const etag = typeof row._etag === 'string' ? row._etag.replaceAll('"', '').trim() : '';
  if (etag === '') return malformed(ctx, key, rowId, 'field _etag is missing');
  if (rowId === '') return malformed(ctx, key, rowId, `field ${ctx.column} is not an integer`);
  const prefix = ctx.exclude(key);
  const id = value.objectId;
  if (prefix !== undefined) {
    return {
      kind: 'excluded',
      shard: ctx.shard,
      key,
      id,
      shark: ctx.shark,
      rowId,
      reason: 'excluded_key_prefix',
      prefix,
    };
  }
  return {
    kind: 'object',
    shard: ctx.shard,
    key,
    etag,
    id,
    value: value as MantaObjectValue,
    shark: ctx.shark,
    rowId,
  };
}

function malformed(ctx: RowContext, key: string, rowId: string, problem: string): MalformedRecord {
  return { kind: 'malformed', shard: ctx.shard, key, rowId, problem };
}
