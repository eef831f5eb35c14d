/**
 * The safe-to-remove audit (issue 16): is any object still naming a shark without another
 * copy that provably exists? An audit job scans the live metadata for the shark's objects and
 * checks each one's other copies on their makos; its report is one verdict, the counts, and the
 * unsafe objects (`GET /sharks/{id}/audit` pages them).
 */
import { type Static, Type } from 'typebox';

const Count = Type.Integer({ minimum: 0 });

const UUID_PATTERN =
  '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';

/**
 * Why an object on the shark keeps the shark from being removed: its only copy is there; the
 * others it names are missing or wrong (404, another size, another MD5); a mako holding one did
 * not answer, so nothing is proven; or its record could not be read at all.
 */
export const UNSAFE_REASONS = [
  'only_copy',
  'other_copies_missing',
  'other_copies_unverified',
  'unreadable_record',
] as const;
export type UnsafeReason = (typeof UNSAFE_REASONS)[number];

export const AUDIT_STATES = ['running', 'complete', 'cancelled', 'failed'] as const;
export type AuditState = (typeof AUDIT_STATES)[number];

/** `POST /jobs` `{"action": "audit", "params": {...}}`. */
export const AuditParams = Type.Object(
  {
    shark: Type.String({ minLength: 1, description: 'storage id or short name' }),
    deep: Type.Optional(
      Type.Boolean({ description: 'read each other copy and compare its MD5 (default: HEAD)' }),
    ),
  },
  { additionalProperties: false },
);
export type AuditParams = Static<typeof AuditParams>;

export const CreateAuditPayload = Type.Object(
  { action: Type.Literal('audit'), params: AuditParams },
  { additionalProperties: false },
);
export type CreateAuditPayload = Static<typeof CreateAuditPayload>;

export const UnsafeObject = Type.Object(
  {
    key: Type.String(),
    tier: Type.Union([Type.Literal('v1'), Type.Literal('v2')]),
    shard: Type.Integer({ minimum: 0 }),
    /** Null for a record that could not be read. */
    object_id: Type.Union([Type.String(), Type.Null()]),
    reason: Type.Enum([...UNSAFE_REASONS]),
  },
  { title: 'UnsafeObject', additionalProperties: false },
);
export type UnsafeObject = Static<typeof UnsafeObject>;

export const AuditReport = Type.Object(
  {
    job_id: Type.String(),
    shark: Type.String(),
    deep: Type.Boolean(),
    state: Type.Enum([...AUDIT_STATES]),
    /** `safe` only when the scan finished and no object is unsafe; null until it finished. */
    verdict: Type.Union([Type.Literal('safe'), Type.Literal('unsafe'), Type.Null()]),
    scanned: Type.Object({ objects: Count, v1: Count, v2: Count }),
    safe: Count,
    unsafe: Type.Object({
      total: Count,
      by_reason: Type.Object({
        only_copy: Count,
        other_copies_missing: Count,
        other_copies_unverified: Count,
        unreadable_record: Count,
      }),
    }),
    /** A page of the unsafe objects, by key; `next` is the `after` of the following page. */
    unsafe_objects: Type.Array(UnsafeObject),
    next: Type.Optional(Type.String()),
    started_at: Type.String(),
    finished_at: Type.Union([Type.String(), Type.Null()]),
  },
  { title: 'AuditReport', additionalProperties: false },
);
export type AuditReport = Static<typeof AuditReport>;

/** The unsafe objects an audit report carries unless asked for fewer. */
export const AUDIT_PAGE_SIZE = 1000;

export const SharkParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 512 }) });
export type SharkParams = Static<typeof SharkParams>;

/** Query strings are text: `limit` is 1..1000, `after` the `next` of the previous page. */
export const AuditQuery = Type.Object(
  {
    job: Type.Optional(Type.String({ pattern: UUID_PATTERN })),
    after: Type.Optional(Type.String({ minLength: 1, maxLength: 8192 })),
    limit: Type.Optional(Type.String({ pattern: '^([1-9][0-9]{0,2}|1000)$' })),
  },
  { additionalProperties: false },
);
export type AuditQuery = Static<typeof AuditQuery>;
