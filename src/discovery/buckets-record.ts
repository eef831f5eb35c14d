/**
 * Turns one buckets-mdapi object — a `manta_bucket_object` row read from a buckets-postgres
 * clone, or an ObjectResponse from `listobjects` — into a discovery event for one shark, or
 * nothing when it has no copy there. The record is the domain's Moray-shaped value of a
 * buckets object (src/manta/buckets.ts, peers.md §3.4), with the object's own headers (null
 * values kept) and properties: the metadata update writes both back (L erased them).
 */
import Type from 'typebox';
import { Compile } from 'typebox/compile';
import { type BucketsObject, bucketsObjectToValue, storageNodeFromText } from '../manta/buckets.ts';
import { ObjectResponse } from '../mdapi/index.ts';
import type { BucketsDiscoveredObject } from './buckets-types.ts';
import type { MalformedRecord } from './types.ts';

/** One copy, `{datacenter, manta_storage_id}`. */
type StorageNode = BucketsObject['sharks'][number];

const NonEmpty = Type.String({ minLength: 1 });
const Headers = Type.Record(Type.String(), Type.Union([Type.String(), Type.Null()]));

/**
 * A row as direct-db discovery selects it (buckets-direct-scan.ts): the primary key, and the
 * rest as one JSON array `json_build_array(id, content_length, base64(content_md5),
 * content_type, hstore_to_json(headers), sharks, properties)` — one JSON value costs the
 * driver far less to decode than seven typed columns (bytea, hstore and text[] parsers).
 */
const ObjectRow = Type.Object({
  owner: NonEmpty,
  bucket_id: NonEmpty,
  name: NonEmpty,
  r: Type.Tuple([
    NonEmpty,
    Type.Integer({ minimum: 0 }),
    Type.String(),
    Type.String(),
    Type.Union([Headers, Type.Null()]),
    Type.Union([Type.Array(Type.Union([Type.String(), Type.Null()])), Type.Null()]),
    Type.Unknown(),
  ]),
});
const checkRow = Compile(ObjectRow);
const checkListed = Compile(ObjectResponse);

interface BucketsRowContext {
  readonly shard: number;
  readonly vnode: number;
  readonly shark: string;
}

type BucketsOutcome = BucketsDiscoveredObject | MalformedRecord | undefined;

/** A `sharks` element as a copy (split at its first ':'), or undefined when it is none. */
function sharkOf(text: string | null): StorageNode | undefined {
  if (text === null || !text.includes(':')) return undefined;
  const node = storageNodeFromText(text);
  return node.manta_storage_id === '' ? undefined : node;
}

/** A `manta_bucket_object` row of vnode `ctx.vnode`. */
export function interpretBucketsRow(raw: unknown, ctx: BucketsRowContext): BucketsOutcome {
  if (!checkRow.Check(raw)) {
    const r = member(raw, 'r');
    const texts = Array.isArray(r) ? r[5] : undefined;
    const elsewhere =
      Array.isArray(texts) &&
      !texts.some((t) => typeof t === 'string' && sharkOf(t)?.manta_storage_id === ctx.shark);
    return elsewhere ? undefined : malformed(ctx, raw, problemOf(checkRow, raw));
  }
  const r = raw.r;
  const sharks: StorageNode[] = [];
  for (const text of r[5] ?? []) {
    const shark = sharkOf(text);
    // Dropping an unreadable element would delete that copy from the record when it is
    // written back: report the object instead.
    if (shark === undefined) {
      const problem = `field sharks has an element that is not "dc:storage_id": ${JSON.stringify(text)}`;
      return malformed(ctx, raw, problem);
    }
    sharks.push(shark);
  }
  const md5 = r[2];
  return outcome(ctx, {
    id: r[0],
    owner: raw.owner,
    bucket_id: raw.bucket_id,
    name: raw.name,
    content_length: r[1],
    // PostgreSQL's base64 breaks lines every 76 characters; a 16-byte digest never has one.
    content_md5: md5.includes('\n') ? md5.replaceAll('\n', '') : md5,
    content_type: r[3],
    // NULL: no headers. updateobject cannot write a NULL back, so the update writes none.
    headers: r[4] ?? {},
    sharks,
    properties: r[6],
  });
}

/** One value of a `listobjects` page read from vnode `ctx.vnode`. */
export function interpretListedObject(raw: unknown, ctx: BucketsRowContext): BucketsOutcome {
  if (!checkListed.Check(raw)) {
    const sharks = member(raw, 'sharks');
    const elsewhere =
      Array.isArray(sharks) && !sharks.some((s) => member(s, 'manta_storage_id') === ctx.shark);
    return elsewhere ? undefined : malformed(ctx, raw, problemOf(checkListed, raw));
  }
  return outcome(ctx, raw);
}

function outcome(ctx: BucketsRowContext, o: BucketsObject): BucketsOutcome {
  if (!o.sharks.some((s) => s.manta_storage_id === ctx.shark)) return undefined;
  return {
    kind: 'object',
    tier: 'buckets',
    shard: ctx.shard,
    vnode: ctx.vnode,
    key: o.name,
    etag: o.id,
    id: o.id,
    value: bucketsObjectToValue(o, ctx.vnode),
    shark: ctx.shark,
    rowId: `${ctx.vnode}/${o.owner}/${o.bucket_id}/${o.name}`,
  };
}

/** `<vnode>/<owner>/<bucket_id>/<name>` of a value not known to be an object. */
function rowIdOf(vnode: number, o: unknown): string {
  return `${vnode}/${part(o, 'owner')}/${part(o, 'bucket_id')}/${part(o, 'name')}`;
}

function part(o: unknown, name: string): string {
  const v = member(o, name);
  return typeof v === 'string' ? v : '?';
}

/** A member of a value that failed validation, read without trusting its shape. */
function member(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null && Object.hasOwn(value, name)
    ? Reflect.get(value, name)
    : undefined;
}

function problemOf(
  check: { Errors(value: unknown): Iterable<{ instancePath: string; message: string }> },
  raw: unknown,
): string {
  const [first] = check.Errors(raw);
  const field = first?.instancePath.replace(/^\//, '').replaceAll('/', '.') || 'record';
  return `field ${field} ${first?.message ?? 'is invalid'}`;
}

function malformed(ctx: BucketsRowContext, raw: unknown, problem: string): MalformedRecord {
  const name = member(raw, 'name');
  return {
    kind: 'malformed',
    tier: 'buckets',
    shard: ctx.shard,
    key: typeof name === 'string' ? name : '',
    rowId: rowIdOf(ctx.vnode, raw),
    problem,
  };
}
