/**
 * The object files under a storage node's object root, in path order, a page at a time: the
 * walk goes directory by directory, each directory's names sorted as strings
 * (files-windows.ts), and resumes after a cursor path without entering anything before it.
 * Only the v1/v2 layouts are walked (peers.md §2.2); everything else (the agent's temp area,
 * mako's nginx_temp, links, strays) is skipped and counted, and never entered.
 */
import { lstatSync } from 'node:fs';
import { resolve } from 'node:path';
import type { FilesPage, ObjectFile } from '../api/agent-files.ts';
import { isObjectNameHash, isUuid, V2_PREFIX_LEN } from '../manta/index.ts';
import { type DirectoryWindows, nameAfter } from './files-windows.ts';

/**
 * What a directory of the layout holds: directories of a next level (`dir`), or object files
 * (`file`; `dir` is the directory's root-relative path, the levels above checked the rest).
 * The names decide; an lstat then checks that a directory is one, and the page's lstat that a
 * file is a regular file.
 */
type Level =
  | { readonly dir: (name: string) => Level | undefined }
  | { readonly file: (name: string, dir: string) => boolean };

const PREFIX = /^[0-9a-fA-F]{2}$/;
/** `<objectId>,<objectNameHash>` in the prefix directory of the id's first two characters. */
const V2_LEAVES: Level = {
  file: (name, dir) => {
    const comma = name.indexOf(',');
    const id = name.slice(0, comma);
    return (
      comma > 0 &&
      isUuid(id) &&
      isObjectNameHash(name.slice(comma + 1)) &&
      dir.endsWith(`/${id.slice(0, V2_PREFIX_LEN)}`)
    );
  },
};
const V2_PREFIXES: Level = { dir: (n) => (PREFIX.test(n) ? V2_LEAVES : undefined) };
const V2_BUCKETS: Level = { dir: (n) => (isUuid(n) ? V2_PREFIXES : undefined) };
const V2_OWNERS: Level = { dir: (n) => (isUuid(n) ? V2_BUCKETS : undefined) };
const V1_OWNER: Level = { file: (name) => isUuid(name) };
const ROOT: Level = { dir: (n) => (n === 'v2' ? V2_OWNERS : isUuid(n) ? V1_OWNER : undefined) };

/** Files stat'ed between two turns of the event loop. */
const STAT_SLICE = 500;

interface Walk {
  readonly windows: DirectoryWindows;
  /** The object root, as a prefix of root-relative paths (`''` for `/`). */
  readonly root: string;
  readonly limit: number;
  /** Root-relative paths of the object files found, in order. */
  readonly found: string[];
  skipped: number;
  /** `skipped` when the page's last file was found. */
  skippedInPage: number;
}

const absolute = (w: Walk, path: string): string => (path === '' ? w.root || '/' : w.root + path);

/** A file found; true once the page has one more than its limit (so a next page exists). */
function found(w: Walk, path: string): boolean {
  w.found.push(path);
  if (w.found.length === w.limit) w.skippedInPage = w.skipped;
  return w.found.length > w.limit;
}

/** lstat's verdict on a directory entry; undefined when it is gone. */
function isDirectory(abs: string): boolean | undefined {
  try {
    return lstatSync(abs, { throwIfNoEntry: false })?.isDirectory();
  } catch {
    return false;
  }
}

/**
 * Walks the directory at `path` (root-relative, `''` for the root) after the cursor `after`
 * (its remaining path components); true once the page is full.
 */
async function walk(
  w: Walk,
  path: string,
  level: Level,
  after: readonly string[] | undefined,
): Promise<boolean> {
  const from = after?.[0];
  let bound = from;
  for (;;) {
    const { names, start, done } = await w.windows.slice(absolute(w, path), bound);
    for (let i = start; i < names.length; i++) {
      const name = names[i] as string;
      const child = `${path}/${name}`;
      // The cursor's own component: entered to resume inside it, never counted again.
      const resume = after !== undefined && name === from ? after.slice(1) : undefined;
      if ('file' in level) {
        if (!level.file(name, path)) {
          if (resume === undefined) w.skipped++;
        } else if (resume === undefined && found(w, child)) {
          // (The cursor's own file was on the page before.)
          return true;
        }
        continue;
      }
      const next = level.dir(name);
      const dir = next === undefined ? false : isDirectory(absolute(w, child));
      if (next !== undefined && dir === true) {
        if (resume?.length !== 0 && (await walk(w, child, next, resume))) return true;
      } else if (resume === undefined && dir !== undefined) {
        w.skipped++;
      }
    }
    const last = names.at(-1);
    if (done || last === undefined) return false;
    bound = nameAfter(last);
  }
}

/**
 * A page of at most `limit` object files after `after` (a root-relative object path), with
 * `next` when more may follow. A file that vanishes between the walk and its lstat is left
 * out; one that cannot be stat'ed, or is no longer a regular file, is counted as skipped.
 */
export async function listObjectFiles(
  root: string,
  windows: DirectoryWindows,
  after: string | undefined,
  limit: number,
): Promise<FilesPage> {
  const resolved = resolve(root);
  const w: Walk = {
    windows,
    root: resolved === '/' ? '' : resolved,
    limit,
    found: [],
    skipped: 0,
    skippedInPage: 0,
  };
  const more = await walk(w, '', ROOT, after?.split('/').slice(1));
  // What is skipped between the page's last file and the one after it is the next page's.
  if (more) w.skipped = w.skippedInPage;
  const page = w.found.slice(0, limit);
  const files: ObjectFile[] = [];
  for (let i = 0; i < page.length; i++) {
    // Synchronous lstat of an inode the walk just read is several times cheaper than the
    // thread-pool round trip of an asynchronous one; a slice at a time, then the event loop
    // serves the agent's other requests.
    if (i > 0 && i % STAT_SLICE === 0) await new Promise((resolve) => setImmediate(resolve));
    const path = page[i] as string;
    let s: ReturnType<typeof lstatSync>;
    try {
      s = lstatSync(absolute(w, path), { throwIfNoEntry: false });
    } catch {
      // Unreadable (EACCES, EIO): counted, and one bad file does not fail the page.
      w.skipped++;
      continue;
    }
    // Gone since the walk saw it: nothing to list or count.
    if (s === undefined) continue;
    if (!s.isFile()) {
      w.skipped++;
      continue;
    }
    files.push({ path, size: s.size, mtime: Math.floor(s.mtimeMs) });
  }
  const last = page.at(-1);
  return {
    files,
    skipped: w.skipped,
    ...(more && last !== undefined ? { next: last } : {}),
  };
}
