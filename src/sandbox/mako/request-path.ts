/**
 * Maps a request target to a file under the object root, the way nginx's `root /manta`
 * does, but refusing any `..` segment outright (nginx only refuses when it climbs above
 * the root; a mako client has no reason to send one at all).
 */
import { PathEscapesRootError, resolveUnderRoot } from '../../manta/paths.ts';

export type RequestTarget =
  | { readonly ok: true; readonly path: string; readonly file: string; readonly isRoot: boolean }
  | { readonly ok: false; readonly status: 400 };

export function resolveRequestTarget(root: string, rawUrl: string | undefined): RequestTarget {
  const target = rawUrl ?? '';
  const q = target.search(/[?#]/);
  const rawPath = q < 0 ? target : target.slice(0, q);
  if (!rawPath.startsWith('/')) return { ok: false, status: 400 };
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    // Malformed percent-encoding: nginx answers 400 too.
    return { ok: false, status: 400 };
  }
  if (path.includes('\0') || path.split('/').some((segment) => segment === '..')) {
    return { ok: false, status: 400 };
  }
  if (/^\/+$/.test(path)) return { ok: true, path, file: root, isRoot: true };
  try {
    return { ok: true, path, file: resolveUnderRoot(root, path), isRoot: false };
  } catch (err) {
    if (err instanceof PathEscapesRootError) return { ok: false, status: 400 };
    throw err;
  }
}
