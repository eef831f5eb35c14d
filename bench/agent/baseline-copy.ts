/**
 * The agent benchmark's baseline, run as its own process: the agent's job done in plain Node
 * with none of its logic (no database, no validation, no retries, no directory fsync). Each
 * object is fetched from the mako with a keep-alive node:http GET and streamed through an MD5
 * tap into a temp file on the destination filesystem; the MD5 is checked, the file fsynced
 * (`flush`: fsync before close) and renamed into `dir/<owner>/<objectId>`, as the agent
 * installs it. `concurrency` objects at a time. The same script serves the small and the large
 * objects, so both ratios compare with one definition of "the same job".
 * Input on stdin: JSON `{ jobs: [{ url, md5, owner, objectId }], dir, concurrency }`;
 * output: one JSON line `{ seconds, cpuSeconds, bytes, objects }` (CPU of this whole process).
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import { Agent, get, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';

interface Job {
  url: string;
  md5: string;
  owner: string;
  objectId: string;
}

const input = JSON.parse(await new Response(process.stdin as unknown as ReadableStream).text()) as {
  jobs: Job[];
  dir: string;
  concurrency: number;
};
const agent = new Agent({ keepAlive: true, maxSockets: input.concurrency });
const tempDir = join(input.dir, '.tmp');

async function copy(job: Job, i: number): Promise<number> {
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    get(job.url, { agent }, resolve).once('error', reject);
  });
  if (res.statusCode !== 200) throw new Error(`GET ${job.url}: ${res.statusCode}`);
  const hash = createHash('md5');
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  const tmp = join(tempDir, `${i}.tmp`);
  await pipeline(res, tap, createWriteStream(tmp, { flags: 'wx', flush: true }));
  const got = hash.digest('base64');
  if (got !== job.md5) throw new Error(`MD5 of ${job.url}: ${got}, expected ${job.md5}`);
  await rename(tmp, join(input.dir, job.owner, job.objectId));
  return bytes;
}

const started = performance.now();
const cpuBefore = process.cpuUsage();
await mkdir(tempDir, { recursive: true });
for (const owner of new Set(input.jobs.map((j) => j.owner))) {
  await mkdir(join(input.dir, owner), { recursive: true });
}
let next = 0;
let bytes = 0;
async function worker(): Promise<void> {
  while (next < input.jobs.length) {
    const i = next++;
    bytes += await copy(input.jobs[i]!, i);
  }
}
await Promise.all(Array.from({ length: input.concurrency }, worker));
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
agent.destroy();
process.stdout.write(
  `${JSON.stringify({ seconds, cpuSeconds, bytes, objects: input.jobs.length })}\n`,
);
