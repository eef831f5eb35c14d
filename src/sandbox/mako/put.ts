/**
 * PUT of an object, as the mako nginx fork does it (peers.md §2.3): body streamed to a temp
 * file under `<root>/nginx_temp` while its MD5 is computed, Content-MD5 verified (469 on
 * mismatch), fsync, intermediate directories created, atomic rename, directory fsync.
 * 201 + Location for a new file, 204 when it replaced one; both carry the computed MD5.
 */
import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import { mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import type { Logger } from '../../log/index.ts';
import { createMd5, isContentMd5 } from '../../manta/md5.ts';
import type { Md5Cache } from './md5-cache.ts';
import { COMPUTED_MD5_HEADER, CONTENT_MD5_MISMATCH, sendErrorPage } from './nginx.ts';

export interface PutContext {
  readonly tempDir: string;
  readonly md5Cache: Md5Cache;
  readonly log: Logger;
}

async function statOrUndefined(file: string): Promise<Stats | undefined> {
  try {
    return await stat(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ENOTDIR') return undefined;
    throw err;
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

let tempCounter = 0;

export async function storeObject(
  ctx: PutContext,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  file: string,
): Promise<void> {
  if (path.endsWith('/')) {
    sendErrorPage(res, 409, 'PUT');
    return;
  }
  const expected = req.headers['content-md5'];
  if (expected !== undefined && !isContentMd5(expected)) {
    sendErrorPage(res, 400, 'PUT');
    return;
  }
  if (
    req.headers['content-length'] === undefined &&
    req.headers['transfer-encoding'] === undefined
  ) {
    sendErrorPage(res, 411, 'PUT');
    return;
  }
  const existing = await statOrUndefined(file);
  if (existing?.isDirectory()) {
    sendErrorPage(res, 409, 'PUT');
    return;
  }

  tempCounter += 1;
  const temp = join(ctx.tempDir, `${process.pid}-${tempCounter}-${randomBytes(4).toString('hex')}`);
  const hash = createMd5();
  const fh = await open(temp, 'wx');
  let renamed = false;
  try {
    try {
      for await (const chunk of req) {
        const buf = chunk as Buffer;
        hash.update(buf);
        await fh.write(buf);
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    const computed = hash.digest('base64');
    if (expected !== undefined && expected !== computed) {
      sendErrorPage(res, CONTENT_MD5_MISMATCH, 'PUT', { [COMPUTED_MD5_HEADER]: computed });
      return;
    }
    try {
      await mkdir(dirname(file), { recursive: true });
    } catch (err) {
      // A path component is a file: the object cannot be created there.
      if (
        (err as NodeJS.ErrnoException).code === 'EEXIST' ||
        (err as NodeJS.ErrnoException).code === 'ENOTDIR'
      ) {
        sendErrorPage(res, 409, 'PUT');
        return;
      }
      throw err;
    }
    const replaced = (await statOrUndefined(file)) !== undefined;
    await rename(temp, file);
    renamed = true;
    await fsyncDir(dirname(file));
    ctx.md5Cache.remember(await stat(file), computed);
    res.statusCode = replaced ? 204 : 201;
    if (!replaced) {
      res.setHeader('location', path);
      res.setHeader('content-length', 0);
    }
    res.setHeader(COMPUTED_MD5_HEADER, computed);
    res.end();
  } finally {
    if (!renamed) {
      await unlink(temp).catch((err: unknown) => {
        // Already gone is fine; anything else is worth a log line but must not mask the answer.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
          ctx.log.warn({ err, temp }, 'could not remove PUT temp file');
        }
      });
    }
  }
}
