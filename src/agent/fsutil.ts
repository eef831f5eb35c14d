/** Durable filesystem steps: directory fsync, durable mkdir -p, temp-area cleanup. */
import { mkdir, open, readdir, rm } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';

/** fsync a directory so that entries created or renamed in it survive a crash. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

interface DirSyncState {
  /** The fsync in progress, if any. */
  running: Promise<void> | undefined;
  /** The fsync that starts when `running` ends; joined by every request made meanwhile. */
  next: { promise: Promise<void>; start: () => void } | undefined;
}

/**
 * Group commit of directory fsyncs: `sync(dir)` resolves after an fsync of `dir` that began
 * after the call, so it covers every entry renamed into `dir` before the call. Requests made
 * while an fsync of the same directory runs share the one that follows it: N concurrent
 * installs into a directory cost about two fsyncs instead of N.
 */
export class DirectorySyncer {
  private readonly dirs = new Map<string, DirSyncState>();

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

  private start(dir: string, state: DirSyncState): Promise<void> {
    const running = fsyncDir(dir);
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
