/**
 * The Manta object record: the `_value` of a row of Moray bucket `manta`
 * (protocols.md §4). Only the members the rebalancer relies on are typed; every other
 * member is kept as is (the record is modified in place and written back, so member
 * order and unknown members such as `vnode` must survive).
 */
import Type, { type Static } from 'typebox';

/** One copy of an object: `{datacenter, manta_storage_id}`. */
export const MantaObjectShark = Type.Object({
  datacenter: Type.String({ minLength: 1 }),
  manta_storage_id: Type.String({ minLength: 1 }),
});
export type MantaObjectShark = Static<typeof MantaObjectShark>;

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
    sharks: Type.Array(MantaObjectShark),
    vnode: Type.Optional(Type.Integer({ minimum: 0 })),
    /** Present only on buckets (v2) objects as discovery maps them (peers.md §3.4). */
    bucket_id: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);
export type MantaObjectValue = Static<typeof MantaObjectValue> & Record<string, unknown>;
