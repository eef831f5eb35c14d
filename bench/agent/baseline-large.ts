/**
 * Large-object baseline, run as its own process: streams each URL from the mako into a
 * file with plain Node streams (http GET → MD5 tap → fs write stream), checks the MD5 and
 * fsyncs the file, `concurrency` at a time. No agent logic: no temp file, rename, directory
 * fsync or database.
 * Input on stdin: JSON `{ jobs: [{ url, md5 }], dir, concurrency }`; output: one JSON line.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Agent, get, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const input = JSON.parse(await new Response(process.stdin as unknown as ReadableStream).text()) as {
  jobs: { url: string; md5: string }[];
  dir: string;
  concurrency: number;
};
const agent = new Agent({ keepAlive: true, maxSockets: input.concurrency });

function fetchTo(url: string, file: string, md5: string): Promise<number> {
  return new Promise<IncomingMessage>((resolve, reject) => {
    get(url, { agent }, resolve).once('error', reject);
  }).then(async (res) => {
    if (res.statusCode !== 200) throw new Error(`GET ${url}: ${res.statusCode}`);
    const hash = createHash('md5');
    let bytes = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
        hash.update(chunk);
        bytes += chunk.length;
        done(null, chunk);
      },
    });
    // flush: the write stream fsyncs the file before closing it.
    await pipeline(res, tap, createWriteStream(file, { flush: true }));
    const got = hash.digest('base64');
    if (got !== md5) throw new Error(`MD5 of ${url}: ${got}, expected ${md5}`);
    return bytes;
  });
}

let next = 0;
let bytes = 0;
const started = performance.now();
async function worker(): Promise<void> {
  while (next < input.jobs.length) {
    const i = next++;
    const job = input.jobs[i]!;
    const n = await fetchTo(job.url, join(input.dir, `obj-${i}`), job.md5);
    bytes += n;
  }
}
await Promise.all(Array.from({ length: input.concurrency }, worker));
const seconds = (performance.now() - started) / 1000;
agent.destroy();
process.stdout.write(`${JSON.stringify({ seconds, bytes, objects: input.jobs.length })}\n`);
