/**
 * Writing a download into its temp file: the body's chunks are gathered into batches and
 * written with one writev per batch (no copy into a bigger buffer), one batch in flight while
 * the next gathers, then the file is fdatasynced. Chunks are views of the download's pooled
 * read buffers: each is released once its write has settled, never before (the buffer is
 * read into again), and a batch is written before it spans more than `WRITE_BATCH_BUFFERS`
 * of them (download/read-buffers.ts: a connection holding too many stops reading). Local
 * failures are LocalFsError, so the caller can tell them from the body's own (network) errors.
 */
import { RebalancerError } from '../errors.ts';
import type { Logger } from '../log/index.ts';
import { MAX_BUFFERS_PER_CONNECTION } from './download/read-buffers.ts';
import { fdatasyncFd, writeFd, writevFd } from './fd.ts';

/** Bytes gathered before one write: at most two batches per download are held in memory. */
export const WRITE_BATCH = 256 * 1024;

/** Read buffers one batch may span: two batches and the read target fit a connection's. */
const WRITE_BATCH_BUFFERS = MAX_BUFFERS_PER_CONNECTION / 2 - 1;

export class LocalFsError extends RebalancerError {
  override readonly name = 'LocalFsError';
  readonly code = 'local_fs';
  constructor(override readonly cause: unknown) {
    super(`local filesystem error: ${(cause as Error)?.message ?? String(cause)}`);
  }
}

export function isNoSpace(err: unknown): boolean {
  // A LocalFsError's own code is ours; the errno is its cause's.
  const errno = err instanceof LocalFsError ? err.cause : err;
  const code = (errno as { code?: string })?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

async function writeAll(fd: number, buf: Buffer): Promise<void> {
  let off = 0;
  while (off < buf.length) off += await writeFd(fd, buf, off, buf.length - off);
}

/** Writes `bufs` in order; a short writev (rare on a regular file) is finished chunk by chunk. */
async function writevAll(fd: number, bufs: Buffer[], total: number): Promise<void> {
  if (bufs.length === 1) return writeAll(fd, bufs[0]!);
  const bytesWritten = await writevFd(fd, bufs);
  if (bytesWritten === total) return;
  let skip = bytesWritten;
  for (const buf of bufs) {
    if (skip >= buf.length) {
      skip -= buf.length;
      continue;
    }
    await writeAll(fd, skip === 0 ? buf : buf.subarray(skip));
    skip = 0;
  }
}

/**
 * Writes every chunk of `chunks` into the file `fd` and fdatasyncs it. `onChunk` sees each chunk
 * before it is queued (hashing, pacing); it may return a promise only when it must wait.
 * `release` gets every chunk back once nothing reads it any more, whatever the outcome.
 */
export async function streamToFile(
  chunks: AsyncIterable<Buffer>,
  fd: number,
  onChunk: (buf: Buffer) => Promise<void> | undefined,
  release: (buf: Buffer) => void,
  log: Logger,
): Promise<void> {
  let queued: Buffer[] = [];
  let queuedBytes = 0;
  let queuedBuffers = 0;
  let writing: Promise<void> | undefined;
  const flush = async (): Promise<void> => {
    if (writing) await writing;
    const bufs = queued;
    const total = queuedBytes;
    queued = [];
    queuedBytes = 0;
    queuedBuffers = 0;
    writing = writevAll(fd, bufs, total)
      .catch((err: unknown) => {
        throw new LocalFsError(err);
      })
      .finally(() => {
        for (const buf of bufs) release(buf);
      });
  };
  let taken: Buffer | undefined;
  try {
    for await (const buf of chunks) {
      taken = buf;
      const wait = onChunk(buf);
      if (wait !== undefined) await wait;
      const last = queued[queued.length - 1];
      if (last === undefined || last.buffer !== buf.buffer) queuedBuffers++;
      queued.push(buf);
      taken = undefined;
      queuedBytes += buf.length;
      if (queuedBytes >= WRITE_BATCH || queuedBuffers >= WRITE_BATCH_BUFFERS) await flush();
    }
    if (queuedBytes > 0) await flush();
    if (writing) await writing;
    // fdatasync: the data and the size, which is all a new file needs to be readable.
    await fdatasyncFd(fd).catch((err: unknown) => {
      throw new LocalFsError(err);
    });
  } catch (err) {
    if (writing) {
      // Settle the in-flight write; its error matters only if nothing else failed.
      await writing.catch((writeErr: unknown) => {
        if (!(err instanceof LocalFsError)) {
          log.debug({ err: writeErr }, 'write failed after the download failed');
        }
      });
    }
    for (const buf of queued) release(buf);
    if (taken !== undefined) release(taken);
    throw err;
  }
}
