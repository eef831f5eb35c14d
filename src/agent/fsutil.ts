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
