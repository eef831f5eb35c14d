/**
 * The manager's orphan routes (issue 16): the files left on a shark's mako that no live
 * metadata names any more. Both answers are NDJSON (`application/x-ndjson`), one JSON value
 * per line, because a listing can be millions of files long and take as long as a scan of
 * the whole metadata tier: `progress` lines while the shark is listed and the metadata
 * scanned (they also keep the connection alive), then one line per orphan, then exactly one
 * last line — `summary` when everything was done, `error` when it could not be. A body that
 * ends without either was cut off, and says nothing about the rest.
 */
import { type Static, Type } from 'typebox';
import { DELETE_OUTCOMES, ObjectFile } from './agent-files.ts';

const Count = Type.Integer({ minimum: 0 });

export const DEFAULT_GRACE_SECONDS = 3600;
export const MAX_GRACE_SECONDS = 1_000_000_000;

export const OrphanParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 512 }) });
export type OrphanParams = Static<typeof OrphanParams>;

/** Query strings are text: whole seconds. */
export const OrphanQuery = Type.Object(
  { grace_seconds: Type.Optional(Type.String({ pattern: '^[0-9]{1,10}$' })) },
  { additionalProperties: false },
);
export type OrphanQuery = Static<typeof OrphanQuery>;

export const DeleteOrphansPayload = Type.Object(
  { grace_seconds: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_GRACE_SECONDS })) },
  { title: 'DeleteOrphansPayload', additionalProperties: false },
);
export type DeleteOrphansPayload = Static<typeof DeleteOrphansPayload>;

/** An orphan line of a listing: the file as the shark's agent listed it. */
export const OrphanFile = ObjectFile;
export type OrphanFile = ObjectFile;

/** An orphan line of a deletion: the file and what became of it on the shark. */
export const DeletedOrphan = Type.Object(
  {
    ...ObjectFile.properties,
    outcome: Type.Enum([...DELETE_OUTCOMES]),
    error: Type.Optional(Type.String()),
  },
  { title: 'DeletedOrphan', additionalProperties: false },
);
export type DeletedOrphan = Static<typeof DeletedOrphan>;

export const ORPHAN_PHASES = ['listing', 'scanning', 'deleting'] as const;

export const OrphanProgress = Type.Object(
  {
    progress: Type.Object(
      {
        phase: Type.Enum([...ORPHAN_PHASES]),
        listed_files: Count,
        live_records: Count,
        deleted: Count,
      },
      { additionalProperties: false },
    ),
  },
  { title: 'OrphanProgress', additionalProperties: false },
);
export type OrphanProgress = Static<typeof OrphanProgress>;

const summaryFields = {
  /** Orphans: listed, named by no live record, and older than the grace time. */
  files: Count,
  bytes: Count,
  /** Object files the shark's agent listed. */
  listed_files: Count,
  listed_bytes: Count,
  /** Listed files that a live record names. */
  kept: Count,
  /** Listed files named by no record but modified within the grace time (uploads in flight). */
  too_recent: Count,
  /** Entries of the object root that are not object files (temp areas, links, strays). */
  skipped_entries: Count,
  /** Live records naming the shark. */
  live_records: Count,
  /** Records that could not be read (they might name the shark): deletion refuses them. */
  unreadable_records: Count,
  grace_seconds: Count,
  /** When the listing began (ISO 8601): the grace time counts back from it. */
  listed_at: Type.String(),
};

export const OrphanSummary = Type.Object(summaryFields, {
  title: 'OrphanSummary',
  additionalProperties: false,
});
export type OrphanSummary = Static<typeof OrphanSummary>;

export const DeleteSummary = Type.Object(
  {
    ...summaryFields,
    deleted: Count,
    deleted_bytes: Count,
    /** Already gone when the agent came to them. */
    absent: Count,
    /** Written again since they were listed: left alone. */
    changed: Count,
    failed: Count,
  },
  { title: 'DeleteSummary', additionalProperties: false },
);
export type DeleteSummary = Static<typeof DeleteSummary>;

export const OrphanError = Type.Object(
  {
    error: Type.Object(
      { code: Type.String(), message: Type.String() },
      { additionalProperties: false },
    ),
  },
  { title: 'OrphanError', additionalProperties: false },
);
export type OrphanError = Static<typeof OrphanError>;

/** Any line of a listing's body. */
export const OrphanListLine = Type.Union([
  OrphanFile,
  OrphanProgress,
  Type.Object({ summary: OrphanSummary }, { additionalProperties: false }),
  OrphanError,
]);
export type OrphanListLine = Static<typeof OrphanListLine>;

/** Any line of a deletion's body. */
export const OrphanDeleteLine = Type.Union([
  DeletedOrphan,
  OrphanProgress,
  Type.Object({ summary: DeleteSummary }, { additionalProperties: false }),
  OrphanError,
]);
export type OrphanDeleteLine = Static<typeof OrphanDeleteLine>;

/** The 200 body as declared in the route table: text, one line of the unions above each. */
export const OrphanListBody = Type.String({
  description:
    'application/x-ndjson: progress lines, one ObjectFile per orphan, then {"summary": ' +
    'OrphanSummary} (or {"error": {code, message}} when the listing failed)',
});
export const OrphanDeleteBody = Type.String({
  description:
    'application/x-ndjson: progress lines, one DeletedOrphan per orphan, then {"summary": ' +
    'DeleteSummary} (or {"error": {code, message}} when the deletion stopped)',
});

/** The codes of the routes' refusals (409 unless said otherwise). */
export const OrphanRefusalCode = {
  /** The shark's latest complete audit is missing or not `safe`. */
  AuditNotSafe: 'AuditNotSafe',
  /** An evacuation is running: it may be installing or moving copies right now. */
  JobsRunning: 'JobsRunning',
  /** Another deletion of the same shark's orphans is running. */
  DeletionRunning: 'OrphanDeletionRunning',
  /** Records that could not be read might name listed files. */
  MetadataUnreadable: 'MetadataUnreadable',
  /** So many live records still name the shark that it is plainly not evacuated. */
  SharkNotEvacuated: 'SharkNotEvacuated',
} as const;
export type OrphanRefusalCode = (typeof OrphanRefusalCode)[keyof typeof OrphanRefusalCode];
