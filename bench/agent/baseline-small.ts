/**
 * Small-object baseline, run as its own process: the disk's limit for durable small files.
 * Writes and fsyncs `count` files of `size` bytes into `dir`, `concurrency` at a time
 * (open, write, fsync, close: what any durable install of a new file costs at least).
 * Input on stdin: JSON `{ dir, count, size, concurrency }`; output: one JSON line.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const input = JSON.parse(await new Response(process.stdin as unknown as ReadableStream).text()) as {
  dir: string;
  count: number;
  size: number;
  concurrency: number;
};
const data = randomBytes(input.size);
let next = 0;
const started = performance.now();
async function worker(): Promise<void> {
  while (next < input.count) {
    const i = next++;
    // flush: fsync before close.
    await writeFile(join(input.dir, `f-${i}`), data, { flag: 'wx', flush: true });
  }
}
await Promise.all(Array.from({ length: input.concurrency }, worker));
const seconds = (performance.now() - started) / 1000;
process.stdout.write(`${JSON.stringify({ seconds, files: input.count })}\n`);
