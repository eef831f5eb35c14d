/**
 * Processes one task (agent.md §4.6, with the §11 fixes): skip when the object is already
 * present with the right MD5; otherwise GET it from the source shark, hash while streaming
 * into a uniquely named temp file on the object root's filesystem, verify, fsync, rename
 * atomically into place and fsync the directory. Every failure maps to an L reason.
 */
import { randomUUID } from 'node:crypto';
import { rm, statfs } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ObjectSkippedReason, Task, TaskStatus } from '../api/common.ts';
import { KeyedMutex, RateLimiter, sleep } from '../async/index.ts';
import { RebalancerError } from '../errors.ts';
import type { Logger } from '../log/index.ts';
import {
  createMd5,
  type HostAliases,
  type IdPolicy,
  InvalidMantaIdError,
  md5OfFile,
  objectPath,
  objectUrl,
  resolveUnderRoot,
} from '../manta/index.ts';
import { SourceClient } from './download/client.ts';
import { closeFd, openFd, renamePath, statPath } from './fd.ts';
import { DirectorySyncer, mkdirDurable } from './fsutil.ts';
import type { AgentMetrics, ObjectOutcome } from './metrics.ts';
import { isNoSpace, LocalFsError, streamToFile } from './temp-file.ts';

export interface TaskResult {
  readonly status: Exclude<TaskStatus, 'Pending'>;
  /** `skipped`: already present with the right MD5, nothing downloaded. */
  readonly outcome: ObjectOutcome;
  readonly bytes: number;
}

/** The task was interrupted by shutdown: it stays pending and runs again after restart. */
export class TaskAbortedError extends RebalancerError {
  override readonly name = 'TaskAbortedError';
  readonly code = 'task_aborted';
}

/**
 * Pluggable task processing (tests of the manager use an "always pass" processor). A processor
 * may call `release` once it no longer needs a download slot (its bytes are in place and only
 * fsyncs remain); it resolves only when the task's outcome is final and, if complete, durable.
 */
export type TaskProcessor = (
  task: Task,
  signal: AbortSignal,
  release?: () => void,
) => Promise<TaskResult>;

export interface DownloadProcessorOptions {
  readonly objectRoot: string;
  /** Temp directory on the same filesystem as the object root. */
  readonly tempDir: string;
  readonly idPolicy: IdPolicy;
  readonly allowHostPortSources: boolean;
  readonly hostAliases?: HostAliases;
  /** The API's source rule, checked again before any fetch (rows stored by older versions). */
  readonly sourceAllowed?: (storageId: string) => boolean;
  readonly connectTimeoutMs: number;
  /** Longest wait for response headers or for the next body chunk (not a total cap). */
  readonly idleTimeoutMs: number;
  /** Delays before each retry of a transport failure; L: 1 s, 2 s, 4 s. */
  readonly retryDelaysMs: readonly number[];
  /** Keep-alive connections per source shark. */
  readonly connectionsPerSource: number;
  /** Bytes per second of all downloads together, shared with the agent; absent: unlimited. */
  readonly bandwidth?: RateLimiter;
  readonly log: Logger;
  readonly metrics: AgentMetrics;
}

type Attempt =
  /** `closed`: the temp file's close, still running (its error, if it failed). */
  | { kind: 'ok'; tmp: string; bytes: number; closed: Promise<unknown> }
  | { kind: 'network'; err: unknown }
  | { kind: 'status'; code: number }
  | { kind: 'md5'; got: string; tmp: string }
  | { kind: 'fs'; err: unknown; tmp?: string }
  | { kind: 'nospace'; tmp?: string };

export class DownloadProcessor {
  private readonly client: SourceClient;
  /** Per destination path: the same object is never installed twice at once. */
  private readonly locks = new KeyedMutex();
  private readonly dirSync = new DirectorySyncer();
  /** Directories known to exist (saves a mkdir per install); bounded, cleared when full. */
  private readonly knownDirs = new Set<string>();
  private readonly opts: DownloadProcessorOptions;
  private readonly bandwidth: RateLimiter;
  private space: { at: number; free: number } | undefined;

  constructor(options: DownloadProcessorOptions) {
    this.opts = options;
    this.bandwidth = options.bandwidth ?? new RateLimiter(null);
    this.client = new SourceClient({ connectionsPerHost: options.connectionsPerSource });
  }

  /** The TaskProcessor bound to this instance. */
  readonly process: TaskProcessor = async (task, signal, release) => {
    const { log } = this.opts;
    let rel: string;
    let finalPath: string;
    let url: string;
    try {
      rel = objectPath(
        {
          owner: task.owner,
          objectId: task.object_id,
          bucketId: task.bucket_id,
          objectNameHash: task.object_name_hash,
        },
        { idPolicy: this.opts.idPolicy },
      );
      finalPath = resolveUnderRoot(this.opts.objectRoot, rel);
      if (this.opts.sourceAllowed?.(task.source.manta_storage_id) === false) {
        const id = task.source.manta_storage_id;
        throw new InvalidMantaIdError('storageId', id, 'not a source this agent may fetch from');
      }
      url = objectUrl(task.source.manta_storage_id, rel, {
        allowHostPort: this.opts.allowHostPortSources,
        aliases: this.opts.hostAliases,
      });
    } catch (err) {
      // Payloads are validated on admission; reaching this means a stored row is bad.
      log.error({ err, task }, 'task has no valid destination or source');
      return { status: { Failed: 'AgentFSError' }, outcome: 'failed', bytes: 0 };
    }
    log.debug({ object: task.object_id, path: finalPath }, 'process_task');
    const result = await this.locks.run(finalPath, () =>
      this.processAt(task, url, finalPath, signal),
    );
    if (result.status !== 'Complete') return result;
    // Out of the path's lock and the download slot: installs into this directory meanwhile
    // share the fsync (group commit). A skipped object gets one too: it may be the one an
    // earlier attempt renamed before its directory fsync failed.
    release?.();
    const dir = dirname(finalPath);
    try {
      await this.dirSync.sync(dir);
    } catch (err) {
      log.error({ err, dir }, 'AgentFSError: directory fsync failed');
      return { status: { Failed: 'AgentFSError' }, outcome: 'failed', bytes: 0 };
    }
    if (result.outcome === 'complete') this.opts.metrics.bytesVerified(result.bytes);
    return result;
  };

  private async processAt(
    task: Task,
    url: string,
    finalPath: string,
    signal: AbortSignal,
  ): Promise<TaskResult> {
    const { log } = this.opts;
    if (await this.presentWithMd5(finalPath, task.md5sum)) {
      log.debug(
        { owner: task.owner, object: task.object_id },
        'Checksum passed -- no need to download',
      );
      return { status: 'Complete', outcome: 'skipped', bytes: 0 };
    }
    const retries = this.opts.retryDelaysMs.length;
    let attempt: Attempt;
    for (let i = 0; ; i++) {
      if (signal.aborted) throw new TaskAbortedError('shutdown');
      attempt = await this.downloadOnce(url, task.md5sum, signal);
      if (attempt.kind !== 'network' || i >= retries) break;
      const delay = this.opts.retryDelaysMs[i]!;
      log.warn(
        { url, err: attempt.err, attempt: i + 1, attempts: retries + 1, delayMs: delay },
        'Request failed, retrying',
      );
      try {
        await sleep(delay, signal);
      } catch {
        throw new TaskAbortedError('shutdown during retry delay');
      }
    }
    const fail = async (reason: ObjectSkippedReason, tmp?: string): Promise<TaskResult> => {
      if (tmp !== undefined) await this.removeFile(tmp);
      return { status: { Failed: reason }, outcome: 'failed', bytes: 0 };
    };
    switch (attempt.kind) {
      case 'network':
        log.error({ url, err: attempt.err, attempts: retries + 1 }, 'Request failed after retries');
        return fail('SourceOtherError');
      case 'status':
        log.error({ url, status: attempt.code }, 'Download response is not 200');
        return fail(
          attempt.code === 404 ? 'SourceObjectNotFound' : { HTTPStatusCode: attempt.code },
        );
      case 'md5':
        log.error(
          { owner: task.owner, object: task.object_id, expected: task.md5sum, got: attempt.got },
          'Checksum failed',
        );
        return fail('MD5Mismatch', attempt.tmp);
      case 'nospace':
        log.error({ url }, 'destination has insufficient space');
        return fail('DestinationInsufficientSpace', attempt.tmp);
      case 'fs':
        log.error({ url, err: attempt.err }, 'AgentFSError');
        return fail('AgentFSError', attempt.tmp);
      case 'ok':
        break;
    }
    const [installErr, closeErr] = await Promise.all([
      this.install(attempt.tmp, dirname(finalPath), finalPath).then(
        () => undefined,
        (err: unknown) => err ?? new Error('install failed'),
      ),
      attempt.closed,
    ]);
    if (installErr !== undefined) {
      log.error({ err: installErr, path: finalPath }, 'AgentFSError: installing the object failed');
      const reason = isNoSpace(installErr) ? 'DestinationInsufficientSpace' : 'AgentFSError';
      return fail(reason, attempt.tmp);
    }
    if (closeErr !== undefined) {
      // A file whose close failed is not one to vouch for, even in place: take it out again.
      await this.removeFile(finalPath);
      return fail('AgentFSError');
    }
    // Not durable yet: process() fsyncs the directory before it reports the task complete.
    return { status: 'Complete', outcome: 'complete', bytes: attempt.bytes };
  }

  /** Renames the verified, fsynced temp file into place, creating its directory durably. */
  private async install(tmp: string, dir: string, finalPath: string): Promise<void> {
    const known = this.knownDirs.has(dir);
    if (!known) await this.ensureDir(dir);
    try {
      await renamePath(tmp, finalPath);
    } catch (err) {
      // The directory may have been removed since it was seen: create it again, once.
      if (!known || (err as { code?: string }).code !== 'ENOENT') throw err;
      this.knownDirs.delete(dir);
      await this.ensureDir(dir);
      await renamePath(tmp, finalPath);
    }
  }

  private async ensureDir(dir: string): Promise<void> {
    // A directory created again must not be fsynced through the old one's handle.
    this.dirSync.forget(dir);
    await mkdirDurable(dir);
    if (this.knownDirs.size >= 10_000) this.knownDirs.clear();
    this.knownDirs.add(dir);
  }

  /** True when `path` holds a file whose MD5 is `md5sum`; an unreadable file counts as absent. */
  private async presentWithMd5(path: string, md5sum: string): Promise<boolean> {
    try {
      const st = await statPath(path);
      if (!st.isFile()) return false;
      return (await md5OfFile(path)).contentMd5 === md5sum;
    } catch (err) {
      if ((err as { code?: string }).code !== 'ENOENT') {
        this.opts.log.warn({ err, path }, 'existing object unreadable; downloading again');
      }
      return false;
    }
  }

  private async downloadOnce(url: string, md5sum: string, signal: AbortSignal): Promise<Attempt> {
    const tmp = join(this.opts.tempDir, `${randomUUID()}.tmp`);
    // The temp file is created while the request is in flight: each waits on something else
    // (libuv's pool, the source), so neither's latency adds to the other's. An attempt that
    // gets no body to write removes it again.
    const [sent, created] = await Promise.allSettled([
      this.client.get(url, {
        signal,
        connectTimeoutMs: this.opts.connectTimeoutMs,
        idleTimeoutMs: this.opts.idleTimeoutMs,
      }),
      openFd(tmp, 'wx', 0o644),
    ]);
    const dropTemp = async (): Promise<void> => {
      if (created.status !== 'fulfilled') return;
      await this.closeTemp(created.value, tmp);
      await this.removeFile(tmp);
    };
    if (sent.status === 'rejected') {
      await dropTemp();
      if (signal.aborted) throw new TaskAbortedError('shutdown');
      return { kind: 'network', err: sent.reason };
    }
    const res = sent.value;
    if (created.status === 'rejected') {
      res.destroy();
      const err: unknown = created.reason;
      return isNoSpace(err) ? { kind: 'nospace' } : { kind: 'fs', err };
    }
    const fd = created.value;
    if (res.status !== 200) {
      await dropTemp();
      try {
        await res.discard();
      } catch (err) {
        this.opts.log.debug({ err, url }, 'discarding an error response body failed');
      }
      return { kind: 'status', code: res.status };
    }
    const length = res.contentLength;
    if (length !== undefined && length > 0 && !(await this.hasRoomFor(length))) {
      res.destroy();
      await dropTemp();
      return { kind: 'nospace' };
    }
    const { bandwidth } = this;
    const { metrics } = this.opts;
    const hash = createMd5();
    let bytes = 0;
    const take = (buf: Buffer): void => {
      metrics.bytesReceived(buf.length);
      hash.update(buf);
      bytes += buf.length;
    };
    // Paced before the bytes are used; unlimited costs no await per chunk.
    const onChunk = (buf: Buffer): Promise<void> | undefined => {
      if (bandwidth.rate === null) {
        take(buf);
        return undefined;
      }
      return res
        .withoutIdleTimeout(() => bandwidth.acquire(buf.length, signal))
        .then(() => take(buf));
    };
    let failure: Attempt | undefined;
    try {
      const release = (buf: Buffer): void => res.release(buf);
      await streamToFile(res.body(), fd, onChunk, release, this.opts.log);
    } catch (err) {
      if (err instanceof LocalFsError) {
        res.destroy();
        failure = isNoSpace(err) ? { kind: 'nospace', tmp } : { kind: 'fs', err: err.cause, tmp };
      } else if (signal.aborted) {
        await this.closeTemp(fd, tmp);
        await this.removeFile(tmp);
        throw new TaskAbortedError('shutdown');
      } else {
        failure = { kind: 'network', err };
      }
    }
    if (failure === undefined) {
      const got = hash.digest('base64');
      // Verified and fdatasynced: the close goes on beside the install (a rename needs no
      // closed file), which waits for it before the task may be reported.
      if (got === md5sum) return { kind: 'ok', tmp, bytes, closed: this.closeTemp(fd, tmp) };
      failure = { kind: 'md5', got, tmp };
    }
    await this.closeTemp(fd, tmp);
    // A network failure may be retried: drop this attempt's temp file now.
    if (failure.kind === 'network') await this.removeFile(tmp);
    return failure;
  }

  /**
   * Free-space check before writing (fails early with DestinationInsufficientSpace). The
   * statfs result is reused for a second, less what was claimed since.
   */
  private async hasRoomFor(length: number): Promise<boolean> {
    const now = performance.now();
    if (this.space === undefined || now - this.space.at > 1000) {
      try {
        const fs = await statfs(this.opts.tempDir);
        this.space = { at: now, free: fs.bavail * fs.bsize };
      } catch (err) {
        this.opts.log.warn({ err }, 'statfs of the temp directory failed; not checking space');
        return true;
      }
    }
    if (this.space.free < length) return false;
    this.space.free -= length;
    return true;
  }

  /** Closes a temp file; returns the error (logged) when that fails. */
  private async closeTemp(fd: number, tmp: string): Promise<unknown> {
    try {
      await closeFd(fd);
      return undefined;
    } catch (err) {
      this.opts.log.error({ err, tmp }, 'closing a temp file failed');
      return err ?? new Error('close failed');
    }
  }

  /** Removes a file this task wrote; a failure is logged and counted, never ignored (CRIT-5). */
  private async removeFile(path: string): Promise<void> {
    try {
      await rm(path, { force: true });
    } catch (err) {
      this.opts.metrics.cleanupFailed();
      this.opts.log.error({ err, path }, 'removing a file written by a task failed');
    }
  }

  async close(): Promise<void> {
    this.client.close();
    this.dirSync.close();
  }
}
