/**
 * Shapes of what a Moray shard sends back (spec/protocols.md §2.2, §2.4, §2.11), validated at the
 * boundary: a value that does not fit is a MorayProtocolError naming the field.
 */
import { type Static, type TSchema, Type } from 'typebox';
import { Compile } from 'typebox/compile';
import { MorayProtocolError } from './errors.ts';

/** An object record from getObject/findObjects; Rust's MorayObject requires the same fields. */
export const MorayObjectSchema = Type.Object({
  bucket: Type.String(),
  key: Type.String(),
  value: Type.Record(Type.String(), Type.Unknown()),
  _id: Type.Integer({ minimum: 0 }),
  _etag: Type.String(),
  _mtime: Type.Integer({ minimum: 0 }),
  _txn_snap: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
  /** findObjects: total SQL matches; getObject: null; absent with `no_count`. */
  _count: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()])),
});
export type MorayObject = Static<typeof MorayObjectSchema>;

/** The raw `buckets_config` row: config members are JSON strings (§2.11). */
export const BucketRowSchema = Type.Object({
  name: Type.String(),
  index: Type.String(),
  pre: Type.String(),
  post: Type.String(),
  options: Type.String(),
  mtime: Type.String(),
  reindex_active: Type.Optional(Type.Union([Type.String(), Type.Null()])),
});

export const EtagResultSchema = Type.Object({ etag: Type.String() });

export const BatchEntrySchema = Type.Object({
  bucket: Type.String(),
  key: Type.Optional(Type.String()),
  etag: Type.Optional(Type.String()),
  count: Type.Optional(Type.Integer({ minimum: 0 })),
  filter: Type.Optional(Type.String()),
});

export const BatchResultSchema = Type.Object({ etags: Type.Array(BatchEntrySchema) });
export type BatchResult = Static<typeof BatchResultSchema>;

export const UpdateResultSchema = Type.Object({
  count: Type.Integer({ minimum: 0 }),
  etag: Type.String(),
});
export type UpdateResult = Static<typeof UpdateResultSchema>;

export const CountResultSchema = Type.Object({ count: Type.Integer({ minimum: 0 }) });

export const VersionResultSchema = Type.Object({ version: Type.Number() });

/** A bucket's index definition (§2.12, §3.3). */
export interface BucketIndex {
  type: string;
  unique?: boolean;
  [member: string]: unknown;
}

/** A parsed bucket configuration, as node-moray's parseBucketConfig returns it. */
export interface BucketConfig {
  name: string;
  index: Record<string, BucketIndex>;
  /** Trigger function sources (kept as text: never evaluated). */
  pre: string[];
  post: string[];
  options: Record<string, unknown>;
  mtime: Date;
  reindex_active?: Record<string, unknown> | null;
}

export interface Validator<T> {
  check(value: unknown, method: string, shard: string): T;
}

/** Compiles `schema` into a validator that throws MorayProtocolError naming the bad field. */
export function validator<S extends TSchema>(schema: S, what: string): Validator<Static<S>> {
  const compiled = Compile(schema);
  return {
    check(value, method, shard) {
      if (compiled.Check(value)) return value as Static<S>;
      const first = [...compiled.Errors(value)][0];
      const path = first?.instancePath ? first.instancePath.slice(1).replaceAll('/', '.') : '';
      // A missing member is reported on the parent: name the member itself.
      const missing = (first?.params as { requiredProperties?: unknown } | undefined)
        ?.requiredProperties;
      const member = Array.isArray(missing) && missing.length > 0 ? String(missing[0]) : '';
      const field = [path, member].filter((p) => p !== '').join('.');
      throw new MorayProtocolError({
        message: `${method}: ${what}${field ? ` field "${field}"` : ''} ${first?.message ?? 'is invalid'}`,
        method,
        shard,
        field: field || what,
        info: { received: value },
      });
    },
  };
}

export const morayObject = validator(MorayObjectSchema, 'object record');
export const bucketRow = validator(BucketRowSchema, 'bucket row');
export const etagResult = validator(EtagResultSchema, 'putObject result');
export const batchResult = validator(BatchResultSchema, 'batch result');
export const updateResult = validator(UpdateResultSchema, 'updateObjects result');
export const countResult = validator(CountResultSchema, 'deleteMany result');
export const versionResult = validator(VersionResultSchema, 'version result');

/** Parses the JSON-string members of a bucket row (§2.11). */
export function parseBucketRow(row: unknown, method: string, shard: string): BucketConfig {
  const raw = bucketRow.check(row, method, shard);
  const parse = (field: 'index' | 'pre' | 'post' | 'options' | 'reindex_active'): unknown => {
    const text = raw[field];
    if (text === null || text === undefined) return text;
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new MorayProtocolError({
        message: `${method}: bucket row field "${field}" is not JSON`,
        method,
        shard,
        field,
        cause: err,
      });
    }
  };
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  const isStrings = (v: unknown): v is string[] =>
    Array.isArray(v) && v.every((s) => typeof s === 'string');
  const fail = (field: string, what: string): never => {
    throw new MorayProtocolError({
      message: `${method}: bucket row field "${field}" is not ${what}`,
      method,
      shard,
      field,
    });
  };
  const index = parse('index');
  const pre = parse('pre');
  const post = parse('post');
  const options = parse('options');
  if (!isObject(index)) return fail('index', 'an object');
  if (!isStrings(pre)) return fail('pre', 'an array of strings');
  if (!isStrings(post)) return fail('post', 'an array of strings');
  if (!isObject(options)) return fail('options', 'an object');
  const mtime = new Date(raw.mtime);
  if (Number.isNaN(mtime.getTime())) return fail('mtime', 'a timestamp');
  const config: BucketConfig = {
    name: raw.name,
    index: index as Record<string, BucketIndex>,
    pre,
    post,
    options,
    mtime,
  };
  if (raw.reindex_active !== undefined) {
    const reindex = parse('reindex_active');
    if (reindex !== null && !isObject(reindex)) return fail('reindex_active', 'an object');
    config.reindex_active = reindex;
  }
  return config;
}
