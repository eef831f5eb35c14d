/**
 * A destination out of space, for real: a small tmpfs mounted as one shark's object root (the
 * mako serves it, the agent installs into it), and a filler file that takes every free byte
 * until it is released. Mounting needs root (CAP_SYS_ADMIN); `probeTmpfs` says whether this
 * machine allows it, so a campaign can leave the fault out and say why.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, open, rm, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { RebalancerError } from '../../errors.ts';

const run = promisify(execFile);

export class TmpfsError extends RebalancerError {
  override readonly name = 'TmpfsError';
  readonly code = 'TmpfsError';
}

const FILLER = '.faults-filler';
const BIG_CHUNK = Buffer.alloc(1 << 20);
const SMALL_CHUNK = Buffer.alloc(4096);

async function mountTmpfs(dir: string, bytes: number): Promise<void> {
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0755`, 'tmpfs', dir]);
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new TmpfsError(`cannot mount a tmpfs on ${dir}: ${(e.stderr || e.message).trim()}`, {
      cause: err,
    });
  }
}

/** Whether a tmpfs can be mounted here; the reason when not. */
export async function probeTmpfs(): Promise<{ ok: true } | { ok: false; reason: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'faults-probe-'));
  try {
    await mountTmpfs(dir, 1 << 20);
    await run('umount', [dir]);
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  } finally {
    await rmdir(dir).catch(() => undefined);
  }
}

export class TmpfsRoot {
  #filled = false;

  private constructor(
    readonly dir: string,
    readonly bytes: number,
  ) {}

  /** Mounts a tmpfs of `bytes` on `dir` (created when absent; must be empty to be useful). */
  static async mount(dir: string, bytes: number): Promise<TmpfsRoot> {
    await mkdir(dir, { recursive: true });
    await mountTmpfs(dir, bytes);
    return new TmpfsRoot(dir, bytes);
  }

  get filled(): boolean {
    return this.#filled;
  }

  /** Takes every free byte: writes the filler until the filesystem answers ENOSPC. */
  async fill(): Promise<number> {
    const fh = await open(join(this.dir, FILLER), 'a');
    let written = 0;
    try {
      for (const chunk of [BIG_CHUNK, SMALL_CHUNK]) {
        for (;;) {
          try {
            written += (await fh.write(chunk)).bytesWritten;
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
            throw err;
          }
        }
      }
    } finally {
      await fh.close();
    }
    this.#filled = true;
    return written;
  }

  /** Gives the space back. */
  async release(): Promise<void> {
    await rm(join(this.dir, FILLER), { force: true });
    this.#filled = false;
  }

  /** Unmounts (lazily if something still holds it open). Everything on it is gone. */
  async unmount(): Promise<void> {
    try {
      await run('umount', [this.dir]);
    } catch {
      // A process not yet reaped may hold a file open: detach now, freed when it lets go.
      await run('umount', ['-l', this.dir]);
    }
  }
}
