/**
 * The agent's file routes (issue 16, orphans): a storage node's object files, listed page by
 * page in path order, and deleted on the manager's word. They exist only on an agent with
 * `server.auth_token` configured (403 `AuthRequired` otherwise): a route that deletes files
 * is never open.
 */
import { type Static, Type } from 'typebox';

/** Files per page when `limit` is absent, and the most a page may hold. */
export const FILES_PAGE_DEFAULT = 1000;
export const FILES_PAGE_MAX = 10_000;
/** Files per delete request. */
export const DELETE_FILES_MAX = 1000;

/**
 * An object file: its root-relative path (v1 `/{owner}/{objectId}` or v2
 * `/v2/{owner}/{bucketId}/{pp}/{objectId},{objectNameHash}`), size in bytes and modification
 * time in whole milliseconds since the epoch.
 */
export const ObjectFile = Type.Object(
  {
    path: Type.String({ minLength: 1, maxLength: 512 }),
    size: Type.Integer({ minimum: 0 }),
    mtime: Type.Integer(),
  },
  { title: 'ObjectFile', additionalProperties: false },
);
export type ObjectFile = Static<typeof ObjectFile>;

/** Query strings are text: `limit` is checked against FILES_PAGE_MAX by the agent. */
export const FilesQuery = Type.Object(
  {
    after: Type.Optional(
      Type.String({ minLength: 1, maxLength: 512, description: 'the `next` of the last page' }),
    ),
    limit: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,4}$' })),
  },
  { additionalProperties: false },
);
export type FilesQuery = Static<typeof FilesQuery>;

export const FilesPage = Type.Object(
  {
    /** In path order: directory by directory, names compared as strings. */
    files: Type.Array(ObjectFile),
    /**
     * Entries met on this page that are not object files of the v1/v2 forms (the agent's temp
     * area, mako's nginx_temp, symbolic links, stray names); directories of them are not entered.
     */
    skipped: Type.Integer({ minimum: 0 }),
    /** Absent on the last page; else the `after` of the next one. */
    next: Type.Optional(Type.String()),
  },
  { title: 'FilesPage', additionalProperties: false },
);
export type FilesPage = Static<typeof FilesPage>;

/**
 * Each file is deleted only while it is still the one listed: same size and mtime (a file
 * written again since, e.g. a copy an agent installed anew, is left alone as `changed`).
 */
export const DeleteFilesBody = Type.Object(
  { files: Type.Array(ObjectFile, { minItems: 1, maxItems: DELETE_FILES_MAX }) },
  { title: 'DeleteFilesBody', additionalProperties: false },
);
export type DeleteFilesBody = Static<typeof DeleteFilesBody>;

export const DELETE_OUTCOMES = ['deleted', 'absent', 'changed', 'failed'] as const;

export const DeletedFile = Type.Object(
  {
    path: Type.String(),
    /** `absent`: already gone (ENOENT); `failed`: `error` says why (an errno code). */
    outcome: Type.Enum([...DELETE_OUTCOMES]),
    error: Type.Optional(Type.String()),
  },
  { title: 'DeletedFile', additionalProperties: false },
);
export type DeletedFile = Static<typeof DeletedFile>;

/** One result per requested file, in the request's order. */
export const DeleteFilesAnswer = Type.Object(
  { results: Type.Array(DeletedFile) },
  { title: 'DeleteFilesAnswer', additionalProperties: false },
);
export type DeleteFilesAnswer = Static<typeof DeleteFilesAnswer>;
