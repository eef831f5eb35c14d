/**
 * The source's ceiling for the agent benchmark, run as its own process: plain pooled undici GETs of
 * the same URLs with the same concurrency, bodies discarded (no hashing, no disk, no fsync).
 * Input: JSON `{ urls: string[], concurrency: number }` on stdin; output: one JSON line.
 */
import { Agent, request } from 'undici';

const input = JSON.parse(await new Response(process.stdin as unknown as ReadableStream).text()) as {
  urls: string[];
  concurrency: number;
};
const dispatcher = new Agent({ connections: input.concurrency, keepAliveTimeout: 30_000 });
let next = 0;
let bytes = 0;
const started = performance.now();
async function worker(): Promise<void> {
  while (next < input.urls.length) {
    const url = input.urls[next++]!;
    const res = await request(url, { dispatcher });
    if (res.statusCode !== 200) throw new Error(`GET ${url}: ${res.statusCode}`);
    for await (const chunk of res.body) bytes += (chunk as Buffer).length;
  }
}
await Promise.all(Array.from({ length: input.concurrency }, worker));
const seconds = (performance.now() - started) / 1000;
await dispatcher.close();
process.stdout.write(`${JSON.stringify({ seconds, bytes, requests: input.urls.length })}\n`);
