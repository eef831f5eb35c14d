/**
 * Bytes really stored under a mako's object root: the sum of regular file sizes (what
 * minnow's statvfs would see being consumed). Symlinks are not followed; a root that does
 * not exist (yet) holds 0.
 *
 * Kept incrementally, because walking every file of every mako on every poll costs a stat
 * per object. The first poll walks the tree once; later polls lstat each known directory
 * (far fewer than files) and re-read with readdir only those whose inode, mtime or ctime
 * changed: creating, removing or renaming an entry changes its directory. Names that
 * appeared are stat'ed and added, names that vanished are subtracted, names kept keep their
 * size: Manta objects are immutable and land by temp file + rename under a fresh name.
 *
 * What is not seen, by design: a file whose size changes in place long after it was
 * written (an append or truncate to an old file, which Manta never does), and a rename over
 * an existing name by a file of another size (the name is kept, so it is not re-stat'ed;
 * in Manta the same name means the same object id, hence the same bytes). Re-stat'ing every
 * name of a changed directory would catch the latter, but a v1 owner directory takes every
 * new object of a job, so that would cost again a stat per object.
 *
 * Fresh files (mtime within RECENT_NS of the clock when stat'ed: still being written,
 * like temp files or a test's write-then-truncate) are re-stat'ed at each poll until they
 * settle, so in-place growth right after creation is followed.
 *
 * Memory: per directory a Map name -> size (about 100 bytes per file in V8), so a few
 * hundred MB for the sandbox's scale of a few million files.
 */
import type { BigIntStats, Dirent } from 'node:fs';
import { lstat, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** The fs calls the tracker makes; injectable so tests can count them. */
export interface UsageFs {
  stat(path: string, options: { bigint: true }): Promise<BigIntStats>;
  lstat(path: string, options: { bigint: true }): Promise<BigIntStats>;
  readdir(path: string, options: { withFileTypes: true }): Promise<Dirent[]>;
}

const nodeFs: UsageFs = { stat, lstat, readdir };

/**
 * Concurrent stat calls. Enough to keep libuv's threadpool (4 threads) busy; more only
 * queues: reading 8 directories at once, 64 stats each, made the first walk slower here.
 */
const STAT_BATCH = 64;
/**
 * Timestamps tick coarser than their nanosecond fields suggest (ext4 uses the kernel's
 * coarse clock): a change within the same tick as our read leaves the mtime as we saw it.
 * Anything this close to now when read is read again next poll.
 */
const RECENT_NS = 1_000_000_000n;

interface DirState {
  readonly ino: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  /** Read again at the next poll whatever its timestamps say (see RECENT_NS). */
  recheck: boolean;
  /** Regular files directly in this directory: name -> size. */
  readonly files: Map<string, number>;
  /** Sum of `files`. */
  bytes: number;
  /** Fresh files, re-stat'ed each poll until their mtime is old. */
  hot: Set<string> | undefined;
  /** Subdirectories; undefined = seen by readdir, not read yet. */
  readonly subdirs: Map<string, DirState | undefined>;
}

interface Visit {
  readonly path: string;
  readonly prev: DirState | undefined;
  readonly attach: (dir: DirState | undefined) => void;
}

function isGone(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  // Removed (or replaced by a file) between being listed and being read.
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function wallClockNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

export interface UsageTrackerOptions {
  /** Defaults to node:fs/promises. */
  readonly fs?: UsageFs;
  /** Wall clock in ns, compared with file timestamps (see RECENT_NS). */
  readonly nowNs?: () => bigint;
}

async function inBatches<T>(items: readonly T[], size: number, fn: (item: T) => Promise<void>) {
  for (let i = 0; i < items.length; i += size) {
    await Promise.all(items.slice(i, i + size).map(fn));
  }
}

export class UsageTracker {
  private rootDir: DirState | undefined;
  private polling: Promise<unknown> = Promise.resolve();
  private readonly fs: UsageFs;
  private readonly nowNs: () => bigint;

  constructor(
    readonly root: string,
    options: UsageTrackerOptions = {},
  ) {
    this.fs = options.fs ?? nodeFs;
    this.nowNs = options.nowNs ?? wallClockNs;
  }

  /** Bytes under the root now. Polls run one at a time: a second call waits for the first. */
  poll(): Promise<number> {
    const next = this.polling.then(
      () => this.pollOnce(),
      () => this.pollOnce(),
    );
    this.polling = next;
    return next;
  }

  private async pollOnce(): Promise<number> {
    let total = 0;
    // Breadth first, one level at a time, so concurrency stays bounded whatever the depth.
    let level: Visit[] = [
      { path: this.root, prev: this.rootDir, attach: (d) => (this.rootDir = d) },
    ];
    while (level.length > 0) {
      const next: Visit[] = [];
      // The level's directories are stat'ed together (most are unchanged: that is all they
      // cost); changed ones are then read one at a time, each stat'ing its names in batches.
      const stats = new Array<BigIntStats | undefined>(level.length);
      await inBatches(
        level.map((v, i) => [v, i] as const),
        STAT_BATCH,
        async ([v, i]) => {
          stats[i] = await this.statDir(v.path, v.path === this.root);
        },
      );
      for (const [i, v] of level.entries()) {
        const st = stats[i];
        const dir = st && (await this.refresh(v.path, v.prev, st));
        v.attach(dir);
        if (!dir) continue;
        total += dir.bytes;
        for (const [name, child] of dir.subdirs) {
          next.push({
            path: join(v.path, name),
            prev: child,
            attach: (d) => (d ? dir.subdirs.set(name, d) : dir.subdirs.delete(name)),
          });
        }
      }
      level = next;
    }
    return total;
  }

  /** The directory's stat, or undefined when it is gone or no longer a directory. */
  private async statDir(path: string, isRoot: boolean): Promise<BigIntStats | undefined> {
    let st: BigIntStats;
    try {
      // The root may be a symlink to the store (opendir follows it); below it, never.
      st = await (isRoot
        ? this.fs.stat(path, { bigint: true })
        : this.fs.lstat(path, { bigint: true }));
    } catch (err) {
      if (isGone(err)) return undefined;
      throw err;
    }
    return st.isDirectory() ? st : undefined;
  }

  /** The directory's state after this poll, or undefined when it vanished before readdir. */
  private async refresh(
    path: string,
    prev: DirState | undefined,
    st: BigIntStats,
  ): Promise<DirState | undefined> {
    // Another inode under the same name is another directory: start over.
    const base = prev && prev.ino === st.ino ? prev : undefined;
    const changed =
      !base || base.recheck || base.mtimeNs !== st.mtimeNs || base.ctimeNs !== st.ctimeNs;
    const dir = base ?? {
      ino: st.ino,
      mtimeNs: st.mtimeNs,
      ctimeNs: st.ctimeNs,
      recheck: false,
      files: new Map(),
      bytes: 0,
      hot: undefined,
      subdirs: new Map(),
    };
    // Fresh files seen by earlier polls; those a re-read adds now are stat'ed by it.
    const hot = dir.hot ? [...dir.hot] : [];
    try {
      if (changed && !(await this.reread(path, dir, st))) return undefined;
      await this.restat(
        path,
        dir,
        hot.filter((name) => dir.hot?.has(name)),
      );
    } catch (err) {
      // Half-applied: make the next poll read it again rather than trust its timestamps.
      dir.recheck = true;
      throw err;
    }
    return dir;
  }

  /** Applies the directory's current listing; false when it vanished before readdir. */
  private async reread(path: string, dir: DirState, st: BigIntStats): Promise<boolean> {
    // Timestamps from the stat taken *before* readdir: a change after it shows as newer.
    dir.mtimeNs = st.mtimeNs;
    dir.ctimeNs = st.ctimeNs;
    const now = this.nowNs();
    dir.recheck = now - st.mtimeNs < RECENT_NS || now - st.ctimeNs < RECENT_NS;
    let entries: Dirent[];
    try {
      entries = await this.fs.readdir(path, { withFileTypes: true });
    } catch (err) {
      if (isGone(err)) return false;
      throw err;
    }
    const files = new Set<string>();
    const dirs = new Set<string>();
    const added: string[] = [];
    for (const e of entries) {
      if (e.isFile()) {
        files.add(e.name);
        if (!dir.files.has(e.name)) added.push(e.name);
      } else if (e.isDirectory()) {
        dirs.add(e.name);
        if (!dir.subdirs.has(e.name)) dir.subdirs.set(e.name, undefined);
      }
    }
    for (const [name, size] of dir.files) {
      if (!files.has(name)) this.forget(dir, name, size);
    }
    for (const name of dir.subdirs.keys()) {
      if (!dirs.has(name)) dir.subdirs.delete(name);
    }
    await this.restat(path, dir, added);
    return true;
  }

  /** lstat's `names` of `dir` and records their sizes (and whether they are still fresh). */
  private async restat(path: string, dir: DirState, names: readonly string[]): Promise<void> {
    await inBatches(names, STAT_BATCH, async (name) => {
      let st: BigIntStats;
      try {
        st = await this.fs.lstat(join(path, name), { bigint: true });
      } catch (err) {
        if (!isGone(err)) throw err;
        // Gone since readdir: its directory changed, so the next poll sees where it went.
        const old = dir.files.get(name);
        if (old !== undefined) this.forget(dir, name, old);
        return;
      }
      const old = dir.files.get(name);
      if (!st.isFile()) {
        // Replaced by another kind of entry; the directory changed, the next read sorts it.
        if (old !== undefined) this.forget(dir, name, old);
        return;
      }
      const size = Number(st.size);
      dir.files.set(name, size);
      dir.bytes += size - (old ?? 0);
      if (this.nowNs() - st.mtimeNs < RECENT_NS) {
        dir.hot ??= new Set();
        dir.hot.add(name);
      } else if (dir.hot?.delete(name) && dir.hot.size === 0) {
        dir.hot = undefined;
      }
    });
  }

  private forget(dir: DirState, name: string, size: number): void {
    dir.files.delete(name);
    dir.bytes -= size;
    if (dir.hot?.delete(name) && dir.hot.size === 0) dir.hot = undefined;
  }
}
