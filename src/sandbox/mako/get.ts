/**
 * GET and HEAD of an object file, streamed from disk, with nginx's static-module headers
 * and the body faults (corrupt, truncate, reset).
 */
import type { Stats } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../log/index.ts';
import type { FaultDecider } from './faults.ts';
import type { Md5Cache } from './md5-cache.ts';
import {
  CACHE_CONTROL_MAX,
  contentTypeFor,
  EXPIRES_MAX,
  nginxEtag,
  sendErrorPage,
} from './nginx.ts';
import { parseRange } from './range.ts';

export interface GetContext {
  readonly md5Cache: Md5Cache;
  /** Send `Content-MD5` on GET/HEAD (real nginx does not; see startMako). */
  readonly contentMd5Header: boolean;
  readonly log: Logger;
  /** Aborted when the server closes (ends throttled bodies). */
  readonly signal: AbortSignal;
  /** Whether the current faults still throttle `path` (FaultController.throttles). */
  readonly throttles: (path: string) => boolean;
}

const READ_CHUNK = 1 << 20;

/** Flips every bit of the byte at `offset` (relative to the start of the stream). */
class FlipByte extends Transform {
  private position = 0;
  constructor(private readonly offset: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const end = this.position + chunk.length;
    if (this.offset >= this.position && this.offset < end) {
      const copy = Buffer.from(chunk);
      const i = this.offset - this.position;
      copy[i] = (copy[i] ?? 0) ^ 0xff;
      chunk = copy;
    }
    this.position = end;
    done(null, chunk);
  }
}

const TRICKLE_TICK_MS = 100;

/**
 * Passes bytes on at about `bytesPerSecond`, in slices every TRICKLE_TICK_MS, while `throttled()`
 * holds; the rest at full speed once it does not (the throttle was cleared).
 */
function trickle(bytesPerSecond: number, signal: AbortSignal, throttled: () => boolean) {
  const slice = Math.max(1, Math.floor((bytesPerSecond * TRICKLE_TICK_MS) / 1000));
  return async function* (source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      let i = 0;
      for (; i < chunk.length && throttled(); i += slice) {
        yield chunk.subarray(i, i + slice);
        await sleep(TRICKLE_TICK_MS, undefined, { signal });
      }
      if (i < chunk.length) yield chunk.subarray(i);
    }
  };
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENAMETOOLONG';
}

function writeFlushed(res: ServerResponse, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    res.write(chunk, (err) => (err ? reject(err) : resolve()));
  });
}

/**
 * A body of at most READ_CHUNK bytes in one read and one write: for the small objects most of a
 * shark holds, a read stream and its pipeline cost the mako more than the bytes do. A file
 * that shrank meanwhile ends the connection short of its Content-Length, as a stream would.
 */
async function sendWhole(
  fh: FileHandle,
  res: ServerResponse,
  start: number,
  length: number,
): Promise<void> {
  const body = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(body, got, length - got, start + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  if (got === length) {
    res.end(body);
    return;
  }
  res.write(body.subarray(0, got));
  res.socket?.destroySoon();
}

/**
 * Serves `file`; faults that fire are recorded on `decider`. `path` is the decoded URL path
 * (used for directory redirects).
 */
export async function serveObject(
  ctx: GetContext,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  file: string,
  decider: FaultDecider,
): Promise<void> {
  const method = req.method ?? 'GET';
  let fh: FileHandle;
  try {
    fh = await open(file, 'r');
  } catch (err) {
    if (isMissing(err)) {
      sendErrorPage(res, 404, method);
      return;
    }
    if ((err as NodeJS.ErrnoException).code === 'EACCES') {
      sendErrorPage(res, 403, method);
      return;
    }
    throw err;
  }
  let handedOff = false;
  try {
    const st: Stats = await fh.stat();
    if (st.isDirectory()) {
      if (path.endsWith('/')) {
        sendErrorPage(res, 403, method);
      } else {
        sendErrorPage(res, 301, method, { location: `${path}/` });
      }
      return;
    }
    if (!st.isFile()) {
      sendErrorPage(res, 403, method);
      return;
    }
    if (decider.fires('missing')) {
      sendErrorPage(res, 404, method);
      return;
    }
    const range = parseRange(req.headers.range, st.size);
    if (range.kind === 'unsatisfiable') {
      sendErrorPage(res, 416, method, { 'content-range': `bytes */${st.size}` });
      return;
    }
    const start = range.kind === 'range' ? range.start : 0;
    const end = range.kind === 'range' ? range.end : st.size - 1;
    const length = end - start + 1;

    res.statusCode = range.kind === 'range' ? 206 : 200;
    res.setHeader('content-type', contentTypeFor(file));
    res.setHeader('content-length', length);
    res.setHeader('last-modified', st.mtime.toUTCString());
    res.setHeader('etag', nginxEtag(st.mtimeMs, st.size));
    res.setHeader('expires', EXPIRES_MAX);
    res.setHeader('cache-control', CACHE_CONTROL_MAX);
    res.setHeader('accept-ranges', 'bytes');
    if (range.kind === 'range') res.setHeader('content-range', `bytes ${start}-${end}/${st.size}`);
    if (ctx.contentMd5Header) res.setHeader('content-md5', await ctx.md5Cache.contentMd5(fh, st));

    if (method === 'HEAD' || length === 0) {
      res.end();
      return;
    }

    const fault = decider.bodyFault();
    if (fault === undefined && length <= READ_CHUNK) {
      await sendWhole(fh, res, start, length);
      return;
    }
    if (fault === undefined) {
      handedOff = true;
      await pipeline(fh.createReadStream({ start, end, highWaterMark: READ_CHUNK }), res);
      return;
    }
    if (fault.kind === 'corrupt') {
      handedOff = true;
      await pipeline(
        fh.createReadStream({ start, end, highWaterMark: READ_CHUNK }),
        new FlipByte(Math.floor(length / 2)),
        res,
      );
      return;
    }
    if (fault.kind === 'throttle') {
      handedOff = true;
      await pipeline(
        fh.createReadStream({ start, end, highWaterMark: READ_CHUNK }),
        trickle(fault.bytesPerSecond, ctx.signal, () => ctx.throttles(path)),
        res,
      );
      return;
    }
    // Truncate / reset: send part of the body, wait until it is flushed, then cut.
    const cut = Math.min(length, Math.floor(length * fault.fraction));
    res.flushHeaders();
    if (cut > 0) {
      handedOff = true;
      for await (const chunk of fh.createReadStream({
        start,
        end: start + cut - 1,
        highWaterMark: READ_CHUNK,
      })) {
        await writeFlushed(res, chunk as Buffer);
      }
    }
    const socket = res.socket;
    if (socket) {
      if (fault.kind === 'reset') {
        await new Promise<void>((resolve) => socket.write(Buffer.alloc(0), () => resolve()));
        socket.resetAndDestroy();
      } else {
        // FIN after what was written: the client sees fewer bytes than Content-Length.
        socket.destroySoon();
      }
    }
  } finally {
    if (!handedOff) await fh.close();
  }
}
