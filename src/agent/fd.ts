/**
 * The agent's per-object file calls on plain descriptors, through node:fs's callback API under
 * promises. A small object costs the agent about seven file calls, and fs/promises' requests
 * (a FileHandle per file, a promise request per call) cost the main thread about twice what
 * these do; on small objects the agent is bound by its main thread.
 */
import { close, fdatasync, fsync, open, rename, type Stats, stat, write, writev } from 'node:fs';

type Callback<T> = (err: NodeJS.ErrnoException | null, value: T) => void;

function call<T>(start: (done: Callback<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    start((err, value) => (err ? reject(err) : resolve(value)));
  });
}

export const openFd = (path: string, flags: string, mode?: number): Promise<number> =>
  call<number>((done) => open(path, flags, mode, done));

export const closeFd = (fd: number): Promise<void> =>
  call<void>((done) => close(fd, (err) => done(err, undefined)));

/** Writes at the file's position; resolves with the bytes written (possibly short). */
export const writeFd = (fd: number, buf: Buffer, offset: number, length: number): Promise<number> =>
  call<number>((done) => write(fd, buf, offset, length, null, done));

/** Writes the buffers in order at the file's position; resolves with the bytes written. */
export const writevFd = (fd: number, bufs: readonly Buffer[]): Promise<number> =>
  call<number>((done) => writev(fd, bufs as Buffer[], (err, n) => done(err, n)));

export const fdatasyncFd = (fd: number): Promise<void> =>
  call<void>((done) => fdatasync(fd, (err) => done(err, undefined)));

export const fsyncFd = (fd: number): Promise<void> =>
  call<void>((done) => fsync(fd, (err) => done(err, undefined)));

export const renamePath = (from: string, to: string): Promise<void> =>
  call<void>((done) => rename(from, to, (err) => done(err, undefined)));

export const statPath = (path: string): Promise<Stats> => call<Stats>((done) => stat(path, done));
