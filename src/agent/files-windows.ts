/**
 * A directory's names in sorted order, read in windows. A real `/manta/<owner>` can hold
 * millions of files, more than the agent's heap could sort at once: one pass over a directory
 * keeps the WINDOW smallest names at or above a bound (names above the running threshold are
 * dropped as they come), and the window is kept for the pages that follow, so a directory of N
 * names costs about N / WINDOW passes, never one per page.
 */
import { type Dir, opendirSync } from 'node:fs';
import { lstat } from 'node:fs/promises';

/** One directory's names ≥ `from`, sorted: all of them when `complete`, else the first ones. */
interface Window {
  readonly from: string | undefined;
  readonly names: readonly string[];
  readonly complete: boolean;
  readonly readAt: number;
  /** The directory's mtime before the pass; undefined when it could not be read. */
  readonly dirMtimeMs: number | undefined;
}

export interface WindowOptions {
  /** Names kept per directory pass. */
  readonly window?: number;
  /** Names kept over all cached windows; the windows used longest ago go first. */
  readonly maxCachedNames?: number;
  /**
   * How long a window of a directory too large to hold whole is used although the directory
   * changed since (it may miss the files created since, which are too recent for the orphan
   * listing anyway); re-reading a directory of millions of names for every page would cost a
   * pass per page.
   */
  readonly ttlMs?: number;
}

/**
 * Names are only strings, about 64 bytes each for a v1 object id: a pass holds at most 1.5
 * windows of them and the cache 1.25 more (the window a pass replaces goes first), about 18 MB
 * at 100,000. The agent's 64 MiB heap holds that beside its other work without collecting all
 * the time (measured: twice as much made every page pay for full collections, half as much was
 * no faster); a directory of a million files takes ten passes.
 */
const WINDOW = 100_000;
/** Directory entries read between two turns of the event loop. */
const READ_SLICE = 2000;

/** The smallest name after `name` (NUL is in no file name): the bound of the next slice. */
export const nameAfter = (name: string): string => `${name}\0`;

/** The sorted windows of the directories walked lately, shared by the pages of a listing. */
export class DirectoryWindows {
  private readonly cache = new Map<string, Window>();
  private readonly window: number;
  private readonly maxCachedNames: number;
  private readonly ttlMs: number;

  constructor(options: WindowOptions = {}) {
    this.window = options.window ?? WINDOW;
    // One large window and the small ones of the directories above it and beside it.
    this.maxCachedNames = options.maxCachedNames ?? this.window + this.window / 4;
    this.ttlMs = options.ttlMs ?? 60_000;
  }

  /**
   * Names in `dir` in order from `bound` on (every name when undefined): one window's worth,
   * `names[start..]`; unless `done`, more follow after the last (see nameAfter).
   */
  async slice(
    dir: string,
    bound: string | undefined,
  ): Promise<{ names: readonly string[]; start: number; done: boolean }> {
    const w = await this.windowAt(dir, bound);
    return {
      names: w.names,
      start: firstAtOrAbove(w.names, bound),
      done: w.complete || w.names.length === 0,
    };
  }

  private async windowAt(dir: string, bound: string | undefined): Promise<Window> {
    const cached = this.cache.get(dir);
    // Out first (and back in when it is still good): the cache is kept in order of use.
    this.cache.delete(dir);
    if (cached !== undefined && covers(cached, bound)) {
      const young = !cached.complete && Date.now() - cached.readAt < this.ttlMs;
      if (young || (await mtimeOf(dir)) === cached.dirMtimeMs) {
        this.cache.set(dir, cached);
        return cached;
      }
    }
    // The window this pass replaces is already out: the heap never holds both.
    const fresh = await this.read(dir, bound);
    this.cache.set(dir, fresh);
    let total = 0;
    for (const w of this.cache.values()) total += w.names.length;
    for (const [key, w] of this.cache) {
      if (total <= this.maxCachedNames || key === dir) break;
      this.cache.delete(key);
      total -= w.names.length;
    }
    return fresh;
  }

  /** One pass over `dir`: the `window` smallest names ≥ `from`. */
  private async read(dir: string, from: string | undefined): Promise<Window> {
    const readAt = Date.now();
    // Taken before the pass: an entry made during it changes the mtime, so it is read again.
    const dirMtimeMs = await mtimeOf(dir);
    let handle: Dir;
    try {
      handle = opendirSync(dir, { bufferSize: 1024 });
    } catch (err) {
      const code = (err as { code?: string }).code;
      // Removed since its parent was read, or replaced by a file: nothing in it.
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        return { from, names: [], complete: true, readAt, dirMtimeMs };
      }
      throw err;
    }
    const kept: string[] = [];
    let above: string | undefined;
    let truncated = false;
    try {
      // Synchronous reads of cached directory blocks, a slice at a time between turns of the
      // event loop: the thread pool's round trip per batch cost more than the reading.
      for (let n = 1; ; n++) {
        const d = handle.readSync();
        if (d === null) break;
        if (n % READ_SLICE === 0) await new Promise((resolve) => setImmediate(resolve));
        const name = d.name;
        if (from !== undefined && name < from) continue;
        if (above !== undefined && name > above) continue;
        kept.push(name);
        if (kept.length >= this.window + this.window / 2) {
          // The default order of strings is `<`'s: by UTF-16 code units.
          kept.sort();
          kept.length = this.window;
          above = kept.at(-1);
          truncated = true;
        }
      }
    } finally {
      handle.closeSync();
    }
    kept.sort();
    if (kept.length > this.window) {
      kept.length = this.window;
      truncated = true;
    }
    return { from, names: kept, complete: !truncated, readAt, dirMtimeMs };
  }
}

async function mtimeOf(dir: string): Promise<number | undefined> {
  try {
    return (await lstat(dir)).mtimeMs;
  } catch {
    return undefined;
  }
}

function covers(w: Window, bound: string | undefined): boolean {
  if (w.from !== undefined && (bound === undefined || bound < w.from)) return false;
  if (w.complete) return true;
  const last = w.names.at(-1);
  return last !== undefined && bound !== undefined && bound <= last;
}

function firstAtOrAbove(names: readonly string[], bound: string | undefined): number {
  if (bound === undefined) return 0;
  let lo = 0;
  let hi = names.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((names[mid] as string) < bound) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
