/**
 * rebalancer-adm and the manager's api_token (issue 17), real processes (bin/, built): the
 * token is given with --api-token or REBALANCER_API_TOKEN (the option wins) and sent on every
 * request; without it a guarded request is refused with a message saying how to give it and a
 * non-zero exit. SIGUSR1 rotates the token of the running manager; the metrics port follows
 * the read rule.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const ADM = join(root, 'bin/rebalancer-adm.js');
const MANAGER = join(root, 'bin/rebalancer-manager.js');
const API = 'adm-test-api-token-0123';
const READ = 'adm-test-read-token-0123';
const UNKNOWN = '00000000-0000-4000-8000-000000000000';
const REFUSED =
  'the manager refused the request (401 Unauthorized): give its api_token with --api-token or REBALANCER_API_TOKEN';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], env: Record<string, string> = {}): Promise<Run> {
  // The test's own environment may not lend the CLI a token.
  const { REBALANCER_API_TOKEN: _, ...inherited } = process.env;
  return new Promise((resolve) => {
    execFile(process.execPath, [ADM, ...args], { env: { ...inherited, ...env } }, (err, out, e) =>
      resolve({
        code: err ? (typeof err.code === 'number' ? err.code : 1) : 0,
        stdout: out,
        stderr: e,
      }),
    );
  });
}

/** A port free a moment ago, for the metrics server (0 there means "none"). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('rebalancer-adm with the manager api_token', () => {
  let dir: string;
  let storinfo: Server;
  let manager: ChildProcess;
  let logged = '';
  let url: string;
  let metricsUrl: string;
  let tdb: TestDatabase | undefined;
  let config: Record<string, unknown>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'adm-token-'));
    storinfo = createServer((_req, res) => res.writeHead(200).end('[]'));
    await new Promise<void>((resolve) => storinfo.listen(0, '127.0.0.1', resolve));
    tdb = process.env.REBALANCER_TEST_PG_URL ? await createTestDatabase() : undefined;
    const metricsPort = await freePort();
    metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    config = {
      domain_name: 'token.test',
      // Nothing listens there: no route used here needs Moray.
      shards: [{ host: '1.moray.token.test' }],
      host_aliases: { '1.moray.token.test:2020': '127.0.0.1:9' },
      listen_port: 0,
      listen_address: '127.0.0.1',
      metrics_port: metricsPort,
      log_level: 'info',
      storinfo_url: `http://127.0.0.1:${(storinfo.address() as AddressInfo).port}`,
      api_token: API,
      api_token_read: READ,
      ...(tdb?.url === undefined ? {} : { database_url: tdb.url }),
    };
    await writeFile(join(dir, 'config.json'), JSON.stringify(config));
    manager = spawn(process.execPath, [MANAGER, '-c', join(dir, 'config.json')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    manager.stdout?.on('data', (chunk: Buffer) => {
      logged += chunk.toString();
    });
    url = await new Promise<string>((resolve, reject) => {
      manager.stdout?.on('data', () => {
        const line = logged.split('\n').find((l) => l.includes('rebalancer-manager listening'));
        if (line !== undefined) resolve(JSON.parse(line).address);
      });
      manager.on('exit', (code) => reject(new Error(`manager exited with ${code}: ${logged}`)));
    });
  });

  after(async () => {
    if (manager.exitCode === null) {
      const exited = new Promise((resolve) => manager.once('exit', resolve));
      manager.kill('SIGTERM');
      await exited;
    }
    await new Promise((resolve) => storinfo.close(resolve));
    await tdb?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  const adm = (args: string[], env: Record<string, string> = {}) =>
    run(['--url', url, ...args], env);

  function assertRefused(r: Run, exitCode = 1): void {
    assert.equal(r.code, exitCode, r.stderr);
    assert.equal(r.stderr, `Error: ${REFUSED}\n`);
  }

  test('without a token: reads and changes are refused, saying how to give it', async () => {
    assertRefused(await adm(['job', 'list']));
    assertRefused(await adm(['job', 'cancel', UNKNOWN]));
    assertRefused(await adm(['job', 'create', 'evacuate', '-s', '1.stor']));
    assertRefused(await adm(['shark', 'orphans', '1.stor']));
    // The audit keeps its own exit code for "could not say".
    assertRefused(await adm(['shark', 'audit', '1.stor', '--no-wait']), 2);
  });

  test('REBALANCER_API_TOKEN and --api-token are sent; the option wins', async () => {
    const env = (token: string) => ({ REBALANCER_API_TOKEN: token });
    assert.equal((await adm(['job', 'list'], env(API))).code, 0);
    assert.equal((await adm(['job', 'list'], env(READ))).code, 0);
    assert.equal((await adm(['--api-token', API, 'job', 'list'])).code, 0);
    assert.equal((await adm(['--api-token', READ, '--json', 'job', 'list'])).stdout, '[]\n');
    // Past the guard: the route's own answer.
    const cancel = await adm(['job', 'cancel', UNKNOWN], env(API));
    assert.equal(cancel.code, 1);
    assert.match(cancel.stderr, /Server response: 404/);
    assertRefused(await adm(['job', 'cancel', UNKNOWN], env(READ)));
    assertRefused(await adm(['job', 'list'], env('not-the-token-0000')));
    assert.equal((await adm(['--api-token', API, 'job', 'list'], env('wrong-0000'))).code, 0);
    assertRefused(await adm(['--api-token', 'wrong-token-0000', 'job', 'list'], env(API)));
  });

  test('the metrics port follows the read rule', async () => {
    const open = await fetch(metricsUrl);
    assert.equal(open.status, 401);
    assert.equal(open.headers.get('www-authenticate'), 'Bearer realm="rebalancer-manager"');
    assert.equal(JSON.parse(await open.text()).code, 'Unauthorized');
    const read = await fetch(metricsUrl, { headers: { authorization: `Bearer ${READ}` } });
    assert.equal(read.status, 200);
    assert.match(await read.text(), /process_resident_memory_bytes/);
  });

  test('SIGUSR1 rotates the token: the old one is refused at the next request', async () => {
    const rotated = 'adm-test-rotated-token-0123';
    const { api_token_read: _, ...rest } = config;
    await writeFile(join(dir, 'config.json'), JSON.stringify({ ...rest, api_token: rotated }));
    const before = logged.length;
    process.kill(manager.pid ?? 0, 'SIGUSR1');
    const deadline = Date.now() + 20_000;
    while (!logged.slice(before).includes('configuration reloaded')) {
      assert.ok(Date.now() < deadline, `no reload record: ${logged.slice(before)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(!logged.includes(rotated) && !logged.includes(API), 'a token was logged');
    assertRefused(await adm(['job', 'cancel', UNKNOWN], { REBALANCER_API_TOKEN: API }));
    assert.match((await adm(['--api-token', rotated, 'job', 'cancel', UNKNOWN])).stderr, /404/);
    // api_token_read is gone from the file: reads are open again.
    assert.equal((await adm(['job', 'list'])).code, 0);
  });
});
