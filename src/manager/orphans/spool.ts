/**
 * A shark's file listing, kept on the manager's disk between the listing and the metadata scan
 * that follows it: a shark holds millions of files, more than the manager's heap should, and
 * the listing must be complete before the scan begins (a record is then checked after its file
 * was listed). One line per file, `mtime size path`, in the order listed; paths are object
 * paths (no spaces or newlines: the finder checks each one).
 */
import { createReadStream } from 'node:fs';
import { type FileHandle, mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { ObjectFile } from '../../api/agent-files.ts';

export class ListingSpool {
  private constructor(
    private readonly dir: string,
    private readonly file: string,
    private handle: FileHandle | undefined,
  ) {}

  static async create(): Promise<ListingSpool> {
    const dir = await mkdtemp(join(tmpdir(), 'rebalancer-orphans-'));
    const file = join(dir, 'listing');
    try {
      return new ListingSpool(dir, file, await open(file, 'w'));
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  async append(files: readonly ObjectFile[]): Promise<void> {
    if (this.handle === undefined) throw new Error('the listing spool is sealed');
    if (files.length === 0) return;
    let chunk = '';
    for (const f of files) chunk += `${f.mtime} ${f.size} ${f.path}\n`;
    await this.handle.write(chunk);
  }

  /** Ends the writing; the files can be read from then on. */
  async seal(): Promise<void> {
    await this.handle?.close();
    this.handle = undefined;
  }

  /** The files in the order appended. */
  async *files(): AsyncGenerator<ObjectFile> {
    if (this.handle !== undefined) throw new Error('the listing spool is not sealed');
    const lines = createInterface({ input: createReadStream(this.file), crlfDelay: Infinity });
    for await (const line of lines) {
      const a = line.indexOf(' ');
      const b = line.indexOf(' ', a + 1);
      yield {
        mtime: Number(line.slice(0, a)),
        size: Number(line.slice(a + 1, b)),
        path: line.slice(b + 1),
      };
    }
  }

  async remove(): Promise<void> {
    await this.handle?.close();
    this.handle = undefined;
    await rm(this.dir, { recursive: true, force: true });
  }
}
