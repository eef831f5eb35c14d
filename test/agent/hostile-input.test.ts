/**
 * Hostile bodies against a real agent process (bin/rebalancer-agent.js, from dist/) run with
 * the service's heap cap (SERVICE_HEAP_MB.agent, --max-old-space-size=64): deep nesting, one
 * huge string and a mass of empty objects each killed the agent inside JSON.parse. They get a
 * 400/413 JSON answer and the agent keeps serving. Run `npm run build` first.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { heapLimitEnv, SERVICE_HEAP_MB } from '../../src/sandbox/process.ts';
import { postAssignment, type TempDirs, tempDirs, waitComplete } from './helpers.ts';

const BIN = fileURLToPath(new URL('../../bin/rebalancer-agent.js', import.meta.url));
/** The body limit the agent had by default when these bodies killed it. */
const OLD_DEFAULT_LIMIT = 64 * 1024 * 1024;

interface Child {
  readonly proc: ChildProcess;
  readonly url: string;
  readonly exited: Promise<string>;
}

async function spawnAgent(dirs: TempDirs, name: string, extra: string[] = []): Promise<Child> {
  const proc = spawn(
    process.execPath,
    [
      BIN,
      '--host=127.0.0.1',
      '--port=0',
      `--state-dir=${dirs.base}/${name}`,
      `--object-root=${dirs.objectRoot}`,
      '--metrics-enabled=false',
      '--log-level=info',
      ...extra,
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...heapLimitEnv(SERVICE_HEAP_MB.agent) },
    },
  );
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<string>((resolve) =>
    proc.once('exit', (code, signal) => resolve(`exit ${code ?? signal}: ${stderr.slice(-600)}`)),
  );
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      try {
        const rec = JSON.parse(line) as { msg?: string; url?: string };
        if (rec.msg === 'rebalancer agent listening' && rec.url) resolve(rec.url);
      } catch {
        // Not a log record; a failure to start shows in `exited`.
        return;
      }
    });
    exited.then((why) => reject(new Error(`agent ended before listening: ${why}`)));
  });
  return { proc, url, exited };
}

/**
 * POSTs `body`; a dead agent shows as a transport error with the agent's last words. An agent
 * that refuses a body early answers before it has read it all and closes: the body is sent in
 * chunks, as a client streaming it would, and sending stops once the answer has come.
 */
async function post(agent: Child, body: string): Promise<{ status: number; text: string }> {
  const data = Buffer.from(body);
  const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
    let answered = false;
    const req = request(
      `${agent.url}/assignments`,
      { method: 'POST', headers: { 'content-length': String(data.length) } },
      (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    const send = async () => {
      for (let at = 0; at < data.length && !answered && !req.destroyed; at += 64 * 1024) {
        if (!req.write(data.subarray(at, at + 64 * 1024))) {
          await new Promise((r) => {
            req.once('drain', r);
            req.once('close', r);
          });
        }
      }
      if (!answered && !req.destroyed) req.end();
    };
    void send();
  });
  return answer.catch(async (err: Error) => {
    const why = await Promise.race([
      agent.exited,
      new Promise<string>((r) => setTimeout(() => r('still running'), 3000)),
    ]);
    throw new Error(`POST failed (${err.message}); agent: ${why}`);
  });
}

async function assertServing(agent: Child): Promise<void> {
  assert.equal(agent.proc.exitCode, null, 'the agent is alive');
  const id = randomUUID();
  const res = await postAssignment(agent.url, { id, tasks: [] });
  assert.equal(res.status, 200, res.text);
  await waitComplete(agent.url, id);
}

describe('hostile POST /assignments bodies against a heap-capped agent process', () => {
  let dirs: TempDirs;
  const children: Child[] = [];

  before(async () => {
    dirs = await tempDirs();
  });
  after(async () => {
    for (const c of children) {
      if (c.proc.exitCode === null && c.proc.signalCode === null) {
        c.proc.kill('SIGKILL');
        await c.exited;
      }
    }
    await dirs.cleanup();
  });

  test('deep nesting, a 60 MiB string and a mass of containers: 400/413, agent keeps serving', async () => {
    // The body limit the agent used to have, so the 60 MiB body reaches the parser.
    const agent = await spawnAgent(dirs, 'old-limit', [`--body-limit-bytes=${OLD_DEFAULT_LIMIT}`]);
    children.push(agent);
    const id = randomUUID();
    const cases: [string, string, number, RegExp][] = [
      [
        'a million [ then a million ]',
        `{"id":"${id}","tasks":${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}}`,
        400,
        /nests deeper than 16 levels/,
      ],
      [
        'one 60 MiB string',
        `{"id":"${id}","tasks":[],"x":"${'a'.repeat(60 * 1024 * 1024)}"}`,
        400,
        /string longer than 16384 bytes/,
      ],
      [
        'a million empty objects',
        `{"id":"${id}","tasks":[${'{},'.repeat(1_000_000)}{}]}`,
        413,
        /more than \d+ objects and arrays/,
      ],
    ];
    for (const [what, body, status, message] of cases) {
      const res = await post(agent, body);
      assert.equal(res.status, status, `${what}: ${res.text.slice(0, 300)}`);
      const err = JSON.parse(res.text) as { code: string; message: string; field: string };
      assert.equal(err.code, status === 413 ? 'PayloadTooLarge' : 'BadRequest', what);
      assert.equal(err.field, 'body', what);
      assert.match(err.message, message, what);
      await assertServing(agent);
    }
    assert.equal((await fetch(`${agent.url}/assignments/${id}`)).status, 404, 'nothing stored');
  });

  test('with the default body limit a 60 MiB body is a 413 before it is read whole', async () => {
    const agent = await spawnAgent(dirs, 'default-limit');
    children.push(agent);
    const body = `{"id":"${randomUUID()}","tasks":[],"x":"${'a'.repeat(60 * 1024 * 1024)}"}`;
    const res = await post(agent, body).catch((err: Error) => err);
    if (res instanceof Error) {
      // The agent answered and closed while the body was still being sent: the kernel resets
      // a connection closed with unread data, and the client may meet the reset (EPIPE,
      // ECONNRESET) before it reads the answer. It refused the body early all the same.
      assert.match(res.message, /EPIPE|ECONNRESET|socket hang up/, res.message);
      assert.match(res.message, /still running/);
    } else {
      assert.equal(res.status, 413, res.text);
      assert.equal((JSON.parse(res.text) as { code: string }).code, 'PayloadTooLarge');
    }
    await assertServing(agent);
  });
});
