/**
 * `npm run release` (scripts/release.mjs) as a real process: each tarball unpacks to one
 * rebalancer/ tree, and the agent and the manager start from their unpacked trees, answer over
 * HTTP and exit 0 on SIGTERM. They run with cwd in the tree, outside this checkout and with
 * NODE_PATH and NODE_OPTIONS unset, so a package missing from the tarball fails the test.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

const RELEASE = fileURLToPath(new URL('../../scripts/release.mjs', import.meta.url));
const PKG = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8'));
const run = promisify(execFile);

/** The environment of an unpacked service: nothing that could lend it this checkout's modules. */
function serviceEnv(): NodeJS.ProcessEnv {
  const { NODE_PATH: _p, NODE_OPTIONS: _o, ...env } = process.env;
  return env;
}

interface Service {
  proc: ChildProcess;
  exited: Promise<number | null>;
  /** The first log record whose msg is `listening`. */
  ready: Promise<Record<string, unknown>>;
  output(): string;
}

function start(tree: string, args: string[], listening: string): Service {
  const proc = spawn(process.execPath, args, {
    cwd: tree,
    env: serviceEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  proc.stderr?.on('data', (chunk: Buffer) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', resolve));
  const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not listening in 20 s: ${output}`)), 20_000);
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      output += `${line}\n`;
      try {
        const record = JSON.parse(line) as Record<string, unknown>;
        if (record.msg === listening) {
          clearTimeout(timer);
          resolve(record);
        }
      } catch {
        // Not a log record.
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before listening: ${output}`));
    });
  });
  // Awaited later by the test: an early rejection must not count as unhandled meanwhile.
  ready.catch(() => undefined);
  return { proc, exited, ready, output: () => output };
}

async function stop(service: Service): Promise<number | null> {
  service.proc.kill('SIGTERM');
  return service.exited;
}

describe('npm run release', () => {
  let base: string;
  let stdout: string;
  const trees: Record<string, string> = {};
  const services: Service[] = [];
  let storinfo: Server;
  let tdb: TestDatabase | undefined;

  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'release-test-'));
    const out = join(base, 'out');
    ({ stdout } = await run(process.execPath, [RELEASE, '--out', out], { timeout: 120_000 }));
    for (const file of await readdir(out)) {
      const service = /^rebalancer-(manager|agent)-/.exec(file)?.[1];
      assert.ok(service, `unexpected file ${file}`);
      const dir = join(base, service);
      await mkdir(dir);
      await run('tar', ['-xzf', join(out, file), '-C', dir]);
      trees[service] = join(dir, 'rebalancer');
    }
    storinfo = createServer((_req, res) => res.writeHead(200).end('[]'));
    await new Promise<void>((resolve) => storinfo.listen(0, '127.0.0.1', resolve));
    tdb = process.env.REBALANCER_TEST_PG_URL ? await createTestDatabase() : undefined;
  });

  after(async () => {
    for (const s of services) if (s.proc.exitCode === null) s.proc.kill('SIGKILL');
    await Promise.all(services.map((s) => s.exited));
    await new Promise((resolve) => storinfo?.close(resolve));
    await tdb?.drop();
    if (base) await rm(base, { recursive: true, force: true });
  });

  test('one tarball per service, named and reported with its size', async () => {
    const version = new RegExp(`^${PKG.version.replaceAll('.', '\\.')}(-[0-9a-f]{7})?$`);
    const lines = stdout.trim().split('\n');
    assert.equal(lines.length, 2, stdout);
    for (const service of ['manager', 'agent']) {
      const line = lines.find((l) => l.includes(`rebalancer-${service}-`));
      const m = /rebalancer-\w+-(\S+)\.tar\.gz {2}(\d+) bytes/.exec(line ?? '');
      assert.ok(m, stdout);
      assert.match(m[1]!, version);
      assert.ok(Number(m[2]) > 100_000);
    }
    assert.deepEqual(Object.keys(trees).sort(), ['agent', 'manager']);
  });

  test('each tree: bin, dist, production node_modules, package.json, VERSION.json', async () => {
    for (const [service, tree] of Object.entries(trees)) {
      assert.deepEqual(await readdir(join(tree, '..')), ['rebalancer']);
      const info = JSON.parse(await readFile(join(tree, 'VERSION.json'), 'utf8'));
      assert.deepEqual(Object.keys(info).sort(), [
        'arch',
        'built_at',
        'commit',
        'name',
        'node',
        'platform',
        'service',
        'version',
      ]);
      assert.equal(info.service, service);
      assert.equal(info.name, PKG.name);
      assert.equal(info.node, process.version);
      assert.equal(info.platform, process.platform);
      assert.equal(info.arch, process.arch);
      assert.ok(!Number.isNaN(Date.parse(info.built_at)));
      const short = info.commit === null ? '' : `-${info.commit.slice(0, 7)}`;
      assert.equal(info.version, `${PKG.version}${short}`);
      assert.deepEqual(JSON.parse(await readFile(join(tree, 'package.json'), 'utf8')), {
        name: PKG.name,
        version: PKG.version,
        type: 'module',
        engines: PKG.engines,
      });
      for (const p of ['bin/load.js', 'node_modules/fastify', 'node_modules/pino']) {
        assert.ok(existsSync(join(tree, p)), `${service}: ${p}`);
      }
      // Build and development tools never ship, nor the sandbox.
      for (const p of ['esbuild', 'tsx', 'typescript', '@biomejs', 'prebuild-install', '.bin']) {
        assert.ok(!existsSync(join(tree, 'node_modules', p)), `${service} ships ${p}`);
      }
      assert.ok(!existsSync(join(tree, 'dist/sandbox')));
      assert.ok(!existsSync(join(tree, 'bin/rebalancer-sandbox.js')));
    }
    const agent = trees.agent!;
    assert.deepEqual((await readdir(join(agent, 'bin'))).sort(), [
      'load.js',
      'rebalancer-agent.js',
    ]);
    assert.ok(existsSync(join(agent, 'dist/agent/main.js')));
    const addon = 'node_modules/better-sqlite3/build/Release/better_sqlite3.node';
    assert.ok(existsSync(join(agent, addon)));
    assert.ok(!existsSync(join(agent, 'node_modules/better-sqlite3/deps')), 'sqlite sources');
    assert.ok(!existsSync(join(agent, 'node_modules/@electric-sql')));
    const manager = trees.manager!;
    assert.deepEqual((await readdir(join(manager, 'bin'))).sort(), [
      'load.js',
      'rebalancer-adm.js',
      'rebalancer-manager.js',
    ]);
    for (const p of ['dist/manager/main.js', 'dist/adm/main.js', 'dist/ui/index.html']) {
      assert.ok(existsSync(join(manager, p)), p);
    }
    assert.ok(existsSync(join(manager, 'node_modules/@electric-sql/pglite')));
    assert.ok(!existsSync(join(manager, 'node_modules/better-sqlite3')));
    // deploy/ holds whichever of the service-manager files the checkout has.
    for (const sub of ['smf', 'sapi', 'systemd']) {
      const present = existsSync(fileURLToPath(new URL(`../../deploy/${sub}`, import.meta.url)));
      assert.equal(existsSync(join(manager, 'deploy', sub)), present, sub);
    }
  });

  test('the unpacked agent and manager serve HTTP and exit 0 on SIGTERM', async () => {
    const agentTree = trees.agent!;
    const state = join(base, 'agent-state');
    const objects = join(base, 'agent-objects');
    await mkdir(state);
    await mkdir(objects);
    await writeFile(join(base, 'agent.toml'), '[metrics]\nhost = "127.0.0.1"\nport = 0\n');
    const agentArgs = ['--config', join(base, 'agent.toml'), '--host=127.0.0.1', '--port=0'];
    const agent = start(
      agentTree,
      ['bin/rebalancer-agent.js', ...agentArgs, `--state-dir=${state}`, `--object-root=${objects}`],
      'rebalancer agent listening',
    );
    services.push(agent);

    const config = {
      domain_name: 'release.test',
      // Nothing listens there: no route used here needs Moray.
      shards: [{ host: '1.moray.release.test' }],
      host_aliases: { '1.moray.release.test:2020': '127.0.0.1:9' },
      listen_port: 0,
      listen_address: '127.0.0.1',
      metrics_port: 0,
      storinfo_url: `http://127.0.0.1:${(storinfo.address() as AddressInfo).port}`,
      ...(tdb?.url === undefined ? {} : { database_url: tdb.url }),
    };
    await writeFile(join(base, 'manager.json'), JSON.stringify(config));
    const manager = start(
      trees.manager!,
      ['bin/rebalancer-manager.js', '-c', join(base, 'manager.json')],
      'rebalancer-manager listening',
    );
    services.push(manager);

    // The agent's store (better-sqlite3) answers for an assignment it does not have.
    const agentUrl = String((await agent.ready).url).replace(/\/$/, '');
    const missing = await fetch(`${agentUrl}/assignments/${randomUUID()}`);
    assert.equal(missing.status, 404, agent.output());
    assert.match(await missing.text(), /not found/);

    const managerUrl = String((await manager.ready).address);
    const jobs = await fetch(`${managerUrl}/jobs`);
    assert.equal(jobs.status, 200, manager.output());
    assert.deepEqual(await jobs.json(), []);

    const [agentCode, managerCode] = await Promise.all([stop(agent), stop(manager)]);
    assert.equal(agentCode, 0, agent.output());
    assert.equal(managerCode, 0, manager.output());
  });

  test('rebalancer-adm --help runs from the manager tree', async () => {
    const { stdout: help } = await run(process.execPath, ['bin/rebalancer-adm.js', '--help'], {
      cwd: trees.manager!,
      env: serviceEnv(),
    });
    assert.match(help, /Usage:/);
  });
});
