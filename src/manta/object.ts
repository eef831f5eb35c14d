/**
 * The Manta object record: the `_value` of a row of Moray bucket `manta`
 * (protocols.md §4), or a buckets (v2) object as discovery maps it (peers.md §3.4). Only the
 * members the rebalancer relies on are typed; every other member is kept as is (the record
 * is modified in place and written back, so member order and unknown members such as
 * `dirname` or `roles` must survive).
 */
import Type, { type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { StorageNode } from '../api/common.ts';

/**
 * One entry of `sharks`: a StorageNode, but other members of the entry are kept (unlike on
 * the agent wire, where StorageNode refuses them).
 */
const RecordShark = Type.Object(StorageNode.properties);

/** A stored object (type "object"); directories are not rebalanced. */
export const MantaObjectValue = Type.Object(
  {
    key: Type.String({ minLength: 1 }),
    owner: Type.String({ minLength: 1 }),
    type: Type.Literal('object'),
    objectId: Type.String({ minLength: 1 }),
    contentLength: Type.Integer({ minimum: 0 }),
    contentMD5: Type.String(),
    etag: Type.Optional(Type.String()),
    contentType: Type.Optional(Type.String()),
    creator: Type.Optional(Type.String()),
    sharks: Type.Array(RecordShark),
    vnode: Type.Optional(Type.Integer({ minimum: 0 })),
    /** The basename (v1), or the object's name in its bucket (v2: what its path hashes). */
    name: Type.Optional(Type.String()),
    /**
     * User-set HTTP headers. v2: buckets-mdapi's hstore, values string or null. v1: whatever
     * muskie stored, kept as it is (a record is never refused for a header's type).
     */
    headers: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    /** v2 only: buckets-mdapi's `properties` column, any JSON or null (peers.md §3.2). */
    properties: Type.Optional(Type.Unknown()),
    /** Present only on buckets (v2) objects as discovery maps them (peers.md §3.4). */
    bucket_id: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);
export type MantaObjectValue = Static<typeof MantaObjectValue> & Record<string, unknown>;

const checkValue = Compile(MantaObjectValue);

/** True when `value` is an object record the rebalancer can move (a Check, no error list). */
export function isMantaObjectValue(value: unknown): value is MantaObjectValue {
  return checkValue.Check(value);
}

/** Why `value` is not an object record: the first field at fault, e.g. `field owner ...`. */
export function mantaObjectProblem(value: unknown): string {
  const [first] = checkValue.Errors(value);
  const field = first?.instancePath.replace(/^\//, '').replaceAll('/', '.') || 'record';
  return `field ${field} ${first?.message ?? 'is invalid'}`;
}
