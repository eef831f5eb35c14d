/**
 * Deletion of object files on the manager's word (orphans, issue 16). Every path is checked
 * first — a v1/v2 object path, resolving strictly under the object root (invariant 4) — and a
 * request with one bad path deletes nothing. A file is deleted only while it is still the file
 * listed (same size and mtime); each directory that lost an entry is fsynced before the answer,
 * so a deletion reported is a deletion that survives a crash.
 */
import { lstat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { DeletedFile, ObjectFile } from '../api/agent-files.ts';
import { RebalancerError } from '../errors.ts';
import { PathEscapesRootError, parseObjectPath, resolveUnderRoot } from '../manta/index.ts';
import { fsyncDir } from './fsutil.ts';

/** A requested path that is not an object file's path under the root. */
export class BadFilePathError extends RebalancerError {
  override readonly name = 'BadFilePathError';
  readonly code = 'bad_file_path';
  constructor(
    /** `files[3].path`. */
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/** The absolute file names of `files`, in order; BadFilePathError names the first bad one. */
export function resolveObjectFiles(root: string, files: readonly ObjectFile[]): string[] {
  return files.map((file, i) => {
    const field = `files[${i}].path`;
    if (parseObjectPath(file.path) === undefined) {
      throw new BadFilePathError(
        field,
        `${JSON.stringify(file.path)} is not a v1 or v2 object path`,
      );
    }
    try {
      return resolveUnderRoot(root, file.path);
    } catch (err) {
      if (err instanceof PathEscapesRootError) {
        throw new BadFilePathError(field, `${JSON.stringify(file.path)} leaves the object root`);
      }
      throw err;
    }
  });
}

const errnoOf = (err: unknown): string => String((err as { code?: string }).code ?? 'error');

async function deleteOne(file: ObjectFile, abs: string): Promise<DeletedFile> {
  let stat: Awaited<ReturnType<typeof lstat>>;
  try {
    stat = await lstat(abs);
  } catch (err) {
    const code = errnoOf(err);
    return code === 'ENOENT'
      ? { path: file.path, outcome: 'absent' }
      : { path: file.path, outcome: 'failed', error: code };
  }
  if (!stat.isFile()) return { path: file.path, outcome: 'failed', error: 'not a regular file' };
  if (stat.size !== file.size || Math.floor(stat.mtimeMs) !== file.mtime) {
    return { path: file.path, outcome: 'changed' };
  }
  try {
    await unlink(abs);
    return { path: file.path, outcome: 'deleted' };
  } catch (err) {
    const code = errnoOf(err);
    return code === 'ENOENT'
      ? { path: file.path, outcome: 'absent' }
      : { path: file.path, outcome: 'failed', error: code };
  }
}

/** Deletes the files (already resolved by resolveObjectFiles); one result per file, in order. */
export async function deleteObjectFiles(
  files: readonly ObjectFile[],
  absolute: readonly string[],
): Promise<DeletedFile[]> {
  const results = await Promise.all(files.map((f, i) => deleteOne(f, absolute[i] as string)));
  const dirs = new Set<string>();
  results.forEach((r, i) => {
    if (r.outcome === 'deleted') dirs.add(dirname(absolute[i] as string));
  });
  await Promise.all([...dirs].map((d) => fsyncDir(d)));
  return results;
}
