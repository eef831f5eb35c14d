/**
 * Every shape on the buckets-mdapi wire (peers.md §3.2–§3.3, the MANTA-5484 server): the
 * request payloads (each the one member of a request's `d`) and the replies. Payloads
 * accept what the server's decoder accepts (optional members may also be null, unknown
 * members are ignored); the client validates every reply against these, and the sandbox's
 * stand-in every request.
 */
import Type, { type Static, type TSchema } from 'typebox';

/** 8-4-4-4-12 hex, as the server's Uuid type parses it. */
export const Uuid = Type.String({
  pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$',
});

/** A vnode: the server's u64. */
export const Vnode = Type.Integer({ minimum: 0 });

const Nullable = <T extends TSchema>(schema: T) => Type.Optional(Type.Union([schema, Type.Null()]));

/** A payload as a caller gives it to the client: `request_id` is made when absent. */
export type MdapiPayload<P> = Omit<P, 'request_id'> & { request_id?: string };

/** A copy of an object's data, as objects on the wire (`"dc:id"` text in the database). */
export const StorageNodeIdentifier = Type.Object({
  datacenter: Type.String(),
  manta_storage_id: Type.String(),
});
export type StorageNodeIdentifier = Static<typeof StorageNodeIdentifier>;

/** An hstore: string keys, string or null values. */
export const Hstore = Type.Record(Type.String(), Type.Union([Type.String(), Type.Null()]));

/**
 * Request conditions, checked against the current row with etag = the object's id. Each
 * key is accepted with dashes (`if-match`) or underscores (`if_match`).
 */
export const Conditions = Type.Object({
  'if-match': Nullable(Type.Array(Type.String())),
  if_match: Nullable(Type.Array(Type.String())),
  'if-none-match': Nullable(Type.Array(Type.String())),
  if_none_match: Nullable(Type.Array(Type.String())),
  'if-modified-since': Nullable(Type.String()),
  if_modified_since: Nullable(Type.String()),
  'if-unmodified-since': Nullable(Type.String()),
  if_unmodified_since: Nullable(Type.String()),
});
export type Conditions = Static<typeof Conditions>;

/** `getobject` and `deleteobject`. */
export const ObjectKeyPayload = Type.Object({
  owner: Uuid,
  bucket_id: Uuid,
  name: Type.String(),
  vnode: Vnode,
  request_id: Uuid,
  conditions: Type.Optional(Conditions),
});
export type ObjectKeyPayload = Static<typeof ObjectKeyPayload>;

/** `updateobject`: sets content type, headers, properties and (COALESCE) sharks. */
export const UpdateObjectPayload = Type.Object({
  owner: Uuid,
  bucket_id: Uuid,
  name: Type.String(),
  /** The row is updated only while it still has this id. */
  id: Uuid,
  vnode: Vnode,
  content_type: Type.String(),
  headers: Hstore,
  /** Absent or null: the row keeps its sharks. */
  sharks: Nullable(Type.Array(StorageNodeIdentifier)),
  properties: Type.Optional(Type.Unknown()),
  request_id: Uuid,
  conditions: Type.Optional(Conditions),
});
export type UpdateObjectPayload = Static<typeof UpdateObjectPayload>;

export const CreateObjectPayload = Type.Object({
  owner: Uuid,
  bucket_id: Uuid,
  name: Type.String(),
  id: Uuid,
  vnode: Vnode,
  content_length: Type.Integer(),
  /** Base64 of the digest (empty for an upload record). */
  content_md5: Type.String(),
  content_type: Type.String(),
  headers: Hstore,
  sharks: Type.Array(StorageNodeIdentifier),
  properties: Type.Optional(Type.Unknown()),
  request_id: Uuid,
  conditions: Type.Optional(Conditions),
});
export type CreateObjectPayload = Static<typeof CreateObjectPayload>;

/** At most this many objects per `batchupdateobjects` (the server's limit). */
export const MAX_BATCH_OBJECTS = 1000;

export const BatchUpdateObjectsPayload = Type.Object({
  objects: Type.Array(UpdateObjectPayload),
  request_id: Uuid,
});
export type BatchUpdateObjectsPayload = Static<typeof BatchUpdateObjectsPayload>;

/** List limits the server accepts: 1..1024. */
export const MAX_LIST_LIMIT = 1024;

export const ListObjectsPayload = Type.Object({
  owner: Uuid,
  bucket_id: Uuid,
  vnode: Vnode,
  prefix: Nullable(Type.String()),
  limit: Type.Integer({ minimum: 0 }),
  marker: Nullable(Type.String()),
  request_id: Uuid,
});
export type ListObjectsPayload = Static<typeof ListObjectsPayload>;

/** `createbucket`, `getbucket`. */
export const BucketKeyPayload = Type.Object({
  owner: Uuid,
  name: Type.String(),
  vnode: Vnode,
  request_id: Uuid,
});
export type BucketKeyPayload = Static<typeof BucketKeyPayload>;

export const ListBucketsPayload = Type.Object({
  owner: Uuid,
  vnode: Vnode,
  prefix: Nullable(Type.String()),
  limit: Type.Integer({ minimum: 0 }),
  marker: Nullable(Type.String()),
  request_id: Uuid,
});
export type ListBucketsPayload = Static<typeof ListBucketsPayload>;

export const ListVnodesPayload = Type.Object({ request_id: Uuid });
export const ListOwnersPayload = Type.Object({ vnode: Vnode, request_id: Uuid });

/** An object as every object RPC returns it. No vnode, no etag: the etag is `id`. */
export const ObjectResponse = Type.Object({
  id: Uuid,
  owner: Uuid,
  bucket_id: Uuid,
  name: Type.String(),
  created: Type.String(),
  modified: Type.String(),
  content_length: Type.Integer(),
  content_md5: Type.String(),
  content_type: Type.String(),
  headers: Hstore,
  sharks: Type.Array(StorageNodeIdentifier),
  properties: Type.Unknown(),
});
export type ObjectResponse = Static<typeof ObjectResponse>;

export const Bucket = Type.Object({
  id: Uuid,
  owner: Uuid,
  name: Type.String(),
  created: Type.String(),
});
export type Bucket = Static<typeof Bucket>;

/** One row `deleteobject` removed (`shark_count` 0 for none). */
export const DeletedObject = Type.Object({
  id: Uuid,
  owner: Uuid,
  bucket_id: Uuid,
  name: Type.String(),
  content_length: Type.Integer(),
  shark_count: Type.Integer(),
});
export const DeleteObjectReply = Type.Array(DeletedObject);
export type DeletedObject = Static<typeof DeletedObject>;

/**
 * A vnode whose transaction rolled back: `error` is the wrapped error that caused it and
 * `objects` the payloads sent for that vnode (as the server decoded them), none applied.
 */
export const VnodeFailure = Type.Object({
  vnode: Vnode,
  error: Type.Unknown(),
  objects: Type.Array(UpdateObjectPayload),
});
export type VnodeFailure = Static<typeof VnodeFailure>;

/** Objects of vnodes not listed all succeeded. */
export const BatchUpdateReply = Type.Object({ failed_vnodes: Type.Array(VnodeFailure) });

export const ListVnodesReply = Type.Object({ vnodes: Type.Array(Vnode) });
export const ListOwnersReply = Type.Object({ owners: Type.Array(Uuid) });

/** An application error: `{"error": {"name", "message"}}`. */
export const WrappedError = Type.Object({
  error: Type.Object({ name: Type.String(), message: Type.String() }),
});

/** The list RPCs' limit error, a bare enum variant: `{"LimitConstraintError": "..."}`. */
export const BareLimitError = Type.Object(
  { LimitConstraintError: Type.String() },
  { additionalProperties: false },
);
