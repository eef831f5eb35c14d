/**
 * The other copies of the benchmark's objects, as files a mako serves: one per object naming
 * the shark, at its v1 path `/<owner>/<objectId>` under `root`, as long as its record says
 * (sparse: a HEAD reads the size, never the bytes). One file serves every shark the record
 * names, since every storage id is aliased to the same mako.
 */
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Database } from '../../src/db/index.ts';

export interface CopyFiles {
  /** Records naming the shark (each got a file). */
  onShark: number;
  /** Of those, the ones whose only copy is the shark's: no HEAD, unsafe `only_copy`. */
  onlyCopy: number;
}

const CONCURRENCY = 64;

export async function writeCopyFiles(
  db: Database,
  shark: string,
  root: string,
): Promise<CopyFiles> {
  const dirs = new Set<string>();
  const pending = new Set<Promise<void>>();
  const result: CopyFiles = { onShark: 0, onlyCopy: 0 };
  const rows = db.stream<{ _value: string }>(
    `SELECT _value FROM manta WHERE type = 'object' AND _value LIKE $1`,
    [`%"manta_storage_id":"${shark}"%`],
  );
  for await (const row of rows) {
    const value = JSON.parse(row._value) as {
      owner: string;
      objectId: string;
      contentLength: number;
      sharks: { manta_storage_id: string }[];
    };
    result.onShark++;
    if (value.sharks.every((s) => s.manta_storage_id === shark)) result.onlyCopy++;
    const dir = join(root, value.owner);
    if (!dirs.has(dir)) {
      await mkdir(dir, { recursive: true });
      dirs.add(dir);
    }
    const write = (async () => {
      const fh = await open(join(dir, value.objectId), 'w');
      try {
        await fh.truncate(value.contentLength);
      } finally {
        await fh.close();
      }
    })();
    pending.add(write);
    const settled = () => pending.delete(write);
    void write.then(settled, settled);
    if (pending.size >= CONCURRENCY) await Promise.race(pending);
  }
  await Promise.all(pending);
  return result;
}
