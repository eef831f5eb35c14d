/**
 * MD5 as Manta uses it: `contentMD5` is base64 (standard alphabet, padded) of the 16-byte
 * digest; the v2 object-name hash is lower-case hex of MD5(utf-8 name).
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';

const CONTENT_MD5_RE = /^[A-Za-z0-9+/]{22}==$/;

export function createMd5(): Hash {
  return createHash('md5');
}

export function md5Base64(data: string | Uint8Array): string {
  return createHash('md5').update(data).digest('base64');
}

export function md5Hex(data: string | Uint8Array): string {
  return createHash('md5').update(data).digest('hex');
}

/** The v2 name hash: hex MD5 of the object name (as buckets-api computes it). */
export function objectNameHash(name: string): string {
  return md5Hex(name);
}

/** True for a 24-character base64 string that decodes to exactly 16 bytes. */
export function isContentMd5(value: unknown): value is string {
  return typeof value === 'string' && CONTENT_MD5_RE.test(value);
}

/** Streams a file and returns its contentMD5 (base64) and size; never buffers the file. */
export async function md5OfFile(path: string): Promise<{ contentMd5: string; size: number }> {
  const hash = createHash('md5');
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    const buf = chunk as Buffer;
    size += buf.length;
    hash.update(buf);
  }
  return { contentMd5: hash.digest('base64'), size };
}
