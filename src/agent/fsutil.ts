/** Durable filesystem steps: directory fsync, durable mkdir -p, temp-area cleanup. */
import { mkdir, readdir, rm } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { closeFd, fsyncFd, openFd } from './fd.ts';

/** fsync a directory so that entries created or renamed in it survive a crash. */
export async function fsyncDir(dir: string): Promise<void> {
  const fd = await openFd(dir, 'r');
  try {
    await fsyncFd(fd);
  } finally {
    await closeFd(fd);
  }
}

interface DirSyncState {
  /** The fsync in progress, if any. */
  running: Promise<void> | undefined;
  /** The fsync that starts when `running` ends; joined by every request made meanwhile. */
  next: { promise: Promise<void>; start: () => void } | undefined;
}

/** Closes a read-only directory descriptor: nothing was written through it, nothing can be lost. */
function closeQuietly(fd: number): void {
  closeFd(fd).catch(() => undefined);
}

/** Directory handles kept open for their fsyncs (each fd is one open file of the process). */
const DIR_HANDLES_MAX = 64;

/**
 * Group commit of directory fsyncs: `sync(dir)` resolves after an fsync of `dir` that began
 * after the call, so it covers every entry renamed into `dir` before the call. Requests made
 * while an fsync of the same directory runs share the one that follows it: N concurrent
 * installs into a directory cost about two fsyncs instead of N. The directories' handles stay
 * open (at most DIR_HANDLES_MAX, least recently used closed first): an fsync is then one call
 * on libuv's pool instead of three (open, fsync, close), which was a third of the agent's file
 * operations per small object. Whoever (re)creates a directory calls `forget(dir)`, so that no
 * fsync goes to the handle of a directory that was replaced.
 */
export class DirectorySyncer {
  private readonly dirs = new Map<string, DirSyncState>();
  /** Open handles, least recently used first. */
  private readonly handles = new Map<string, number>();

  sync(dir: string): Promise<void> {
    let state = this.dirs.get(dir);
    if (state === undefined) {
      state = { running: undefined, next: undefined };
      this.dirs.set(dir, state);
    }
    if (state.running === undefined) return this.start(dir, state);
    if (state.next === undefined) {
      let start!: () => void;
      const promise = new Promise<void>((resolve, reject) => {
        start = () => {
          this.start(dir, state).then(resolve, reject);
        };
      });
      state.next = { promise, start };
    }
    return state.next.promise;
  }

  /** Closes the cached handle of `dir` (after its fsync in progress, if any). */
  forget(dir: string): void {
    const fd = this.handles.get(dir);
    if (fd === undefined) return;
    this.handles.delete(dir);
    this.closeAfter(dir, fd);
  }

  /** Closes every cached handle (after the fsyncs in progress). */
  close(): void {
    for (const dir of [...this.handles.keys()]) this.forget(dir);
  }

  private start(dir: string, state: DirSyncState): Promise<void> {
    const running = this.fsync(dir);
    state.running = running;
    // Runs whether the fsync succeeded or not; its error reaches the callers through `running`.
    const after = (): void => {
      const next = state.next;
      state.running = undefined;
      state.next = undefined;
      if (next !== undefined) next.start();
      else this.dirs.delete(dir);
    };
    running.then(after, after);
    return running;
  }

  private async fsync(dir: string): Promise<void> {
    let fd = this.handles.get(dir);
    if (fd === undefined) {
      fd = await openFd(dir, 'r');
      this.evict();
    } else {
      this.handles.delete(dir);
    }
    this.handles.set(dir, fd);
    try {
      await fsyncFd(fd);
    } catch (err) {
      // A handle that failed once is not trusted again.
      if (this.handles.get(dir) === fd) this.handles.delete(dir);
      closeQuietly(fd);
      throw err;
    }
  }

  /** Closes least recently used handles beyond the bound, never one whose fsync runs. */
  private evict(): void {
    for (const [dir, fd] of this.handles) {
      if (this.handles.size < DIR_HANDLES_MAX) return;
      if (this.dirs.get(dir)?.running !== undefined) continue;
      this.handles.delete(dir);
      closeQuietly(fd);
    }
  }

  private closeAfter(dir: string, fd: number): void {
    const close = (): void => closeQuietly(fd);
    const running = this.dirs.get(dir)?.running;
    if (running === undefined) close();
    else running.then(close, close);
  }
}

/**
 * `mkdir -p` that also makes the new directories durable: each created directory's
 * parent is fsynced (the directory itself is fsynced later by whoever fills it).
 */
export async function mkdirDurable(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true });
  if (first === undefined) return;
  // `first` is the top-most directory created; fsync its parent and each new one below it.
  const below = relative(first, dir);
  const created = [first];
  if (below !== '') {
    let cur = first;
    for (const part of below.split(sep)) {
      cur = join(cur, part);
      created.push(cur);
    }
  }
  for (const d of created) await fsyncDir(dirname(d));
}

/**
 * Empties the agent's own temp directory (partial downloads of a previous run), creating
 * it when missing. Only this directory is touched, never the object tree (MIN-5).
 * Returns the number of entries removed.
 */
export async function resetTempDir(dir: string): Promise<number> {
  await mkdir(dir, { recursive: true });
  const entries = await readdir(dir);
  for (const name of entries) await rm(join(dir, name), { recursive: true, force: true });
  return entries.length;
}
