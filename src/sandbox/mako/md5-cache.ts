/**
 * Remembers the MD5 of served files so that repeated GETs of a large object do not read it
 * twice. Keyed by (dev, ino, size, mtime): a rewrite through rename or in place changes the key.
 */

import type { Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { createMd5 } from '../../manta/md5.ts';

const MAX_ENTRIES = 100_000;
const READ_CHUNK = 1 << 20;

export class Md5Cache {
  private readonly entries = new Map<string, string>();

  private static key(st: Stats): string {
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
  }

  remember(st: Stats, contentMd5: string): void {
    const key = Md5Cache.key(st);
    this.entries.delete(key);
    this.entries.set(key, contentMd5);
    if (this.entries.size > MAX_ENTRIES) {
      // Map iterates in insertion order: drop the oldest.
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }

  /** The base64 MD5 of the open file, from the cache or by reading it once. */
  async contentMd5(fh: FileHandle, st: Stats): Promise<string> {
    const cached = this.entries.get(Md5Cache.key(st));
    if (cached !== undefined) return cached;
    const hash = createMd5();
    const buf = Buffer.allocUnsafe(Math.min(READ_CHUNK, Math.max(st.size, 1)));
    let position = 0;
    while (position < st.size) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, position);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
      position += bytesRead;
    }
    const md5 = hash.digest('base64');
    this.remember(st, md5);
    return md5;
  }
}
