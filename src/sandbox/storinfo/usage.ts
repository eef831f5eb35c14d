/**
 * Bytes really stored under a mako's object root: the sum of regular file sizes (what
 * minnow's statvfs would see being consumed). Symlinks are not followed.
 */
import { opendir, stat } from 'node:fs/promises';
import { join } from 'node:path';

const STAT_BATCH = 64;

export async function directoryBytes(root: string): Promise<number> {
  let total = 0;
  const pending = [root];
  while (pending.length > 0) {
    const dir = pending.pop() as string;
    let handle: Awaited<ReturnType<typeof opendir>>;
    try {
      handle = await opendir(dir);
    } catch (err) {
      // A root that does not exist yet holds nothing; a directory removed mid-walk neither.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    let files: string[] = [];
    const flush = async () => {
      const sizes = await Promise.all(
        files.map((f) =>
          stat(f).then(
            (st) => st.size,
            (err: NodeJS.ErrnoException) => {
              // Renamed or deleted between readdir and stat: it is counted where it went.
              if (err.code === 'ENOENT') return 0;
              throw err;
            },
          ),
        ),
      );
      for (const s of sizes) total += s;
      files = [];
    };
    for await (const entry of handle) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) pending.push(full);
      else if (entry.isFile()) {
        files.push(full);
        if (files.length >= STAT_BATCH) await flush();
      }
    }
    await flush();
  }
  return total;
}
