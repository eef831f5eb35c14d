import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError, readConfigFile, resolveConfig } from '../../src/agent/config.ts';
import { type TempDirs, tempDirs } from './helpers.ts';

/** The file config-agent renders from L's SAPI template (agent.md §5.2). */
const BIN = fileURLToPath(new URL('../../bin/rebalancer-agent.js', import.meta.url));

const L_TEMPLATE = `
[server]
host = "0.0.0.0"
port = 7878
workers = 4
workers_per_assignment = 4
download_timeout_secs = 120

[metrics]
host = "0.0.0.0"
port = 8878
datacenter = "us-east-1"  # DATACENTER
service = "1.rebalancer.us-east.joyent.us"
server = "0c7c9c4e-0000-4000-8000-000000000001"
`;

describe('TOML config files (smol-toml)', () => {
  let dirs: TempDirs;
  before(async () => {
    dirs = await tempDirs();
  });
  after(async () => {
    await dirs.cleanup();
  });
  const file = async (name: string, text: string): Promise<string> => {
    const path = join(dirs.base, name);
    await writeFile(path, text);
    return path;
  };

  test('reads L’s config file', async () => {
    // smol-toml's tables have no prototype: compare their contents.
    const parsed = readConfigFile(await file('l.toml', L_TEMPLATE));
    assert.deepEqual(JSON.parse(JSON.stringify(parsed)), {
      server: {
        host: '0.0.0.0',
        port: 7878,
        workers: 4,
        workers_per_assignment: 4,
        download_timeout_secs: 120,
      },
      metrics: {
        host: '0.0.0.0',
        port: 8878,
        datacenter: 'us-east-1',
        service: '1.rebalancer.us-east.joyent.us',
        server: '0c7c9c4e-0000-4000-8000-000000000001',
      },
    });
  });

  test('any valid TOML: dotted keys, inline tables, multi-line strings, arrays over lines', async () => {
    const path = await file(
      'full.toml',
      [
        'server.workers = 2',
        "server.object_root = '''/manta'''",
        'server.retry_delays_ms = [',
        '  100, # first',
        '  200,',
        ']',
        'metrics = { port = 9000, datacenter = """',
        'dc-1""" }',
        '',
      ].join('\n'),
    );
    const c = resolveConfig({ file: readConfigFile(path) });
    assert.equal(c.workers, 2);
    assert.equal(c.metrics.port, 9000);
    assert.equal(c.metrics.datacenter, 'dc-1');
    assert.equal(c.objectRoot, '/manta');
    assert.deepEqual(c.retryDelaysMs, [100, 200]);
  });

  test('a syntax error is a ConfigError naming the file, line and column', async () => {
    const cases: [string, RegExp][] = [
      ['[server]\nport = \n', /syntax1\.toml as TOML: line 2, column 8: invalid value$/],
      ['[server]\nport = 1\nport = 2\n', /syntax2\.toml as TOML: line 3, column 1: /],
      ['a = "open', /syntax3\.toml as TOML: line 1, column \d+: /],
    ];
    for (const [i, [text, message]] of cases.entries()) {
      const path = await file(`syntax${i + 1}.toml`, text);
      assert.throws(
        () => readConfigFile(path),
        (e: unknown) =>
          e instanceof ConfigError &&
          e.code === 'agent_config_invalid' &&
          e.option === 'config' &&
          message.test(e.message),
        text,
      );
    }
  });

  test('well-formed values of the wrong type still name the option', async () => {
    const bad: [string, string][] = [
      ['[server]\nworkers = "4"', 'server.workers: must be an integer'],
      ['[server]\nport = 78.5', 'server.port: must be an integer'],
      ['[server]\nhost = 1979-05-27', 'server.host: must be a string'],
      ['[server]\nallow_host_port_sources = "true"', 'server.allow_host_port_sources'],
      ['[server]\nretry_delays_ms = ["1"]', 'server.retry_delays_ms: must be an integer'],
      ['[[server]]\nworkers = 1', 'server: must be a table'],
      ['[server.workers]\n', 'server.workers: must be an integer'],
      ['[server]\n__proto__ = 1', 'server.__proto__: unknown option'],
    ];
    for (const [i, [text, message]] of bad.entries()) {
      const path = await file(`type${i}.toml`, text);
      assert.throws(
        () => resolveConfig({ file: readConfigFile(path) }),
        (e: unknown) => e instanceof ConfigError && e.message.startsWith(message),
        text,
      );
    }
  });
});

describe('agent configuration', () => {
  let dirs: TempDirs;
  before(async () => {
    dirs = await tempDirs();
  });
  after(async () => {
    await dirs.cleanup();
  });

  test('defaults are L’s (7878, 8878, 4, 4, 120; queue limit workers × 50)', () => {
    const c = resolveConfig({});
    assert.equal(c.port, 7878);
    assert.equal(c.metrics.port, 8878);
    assert.equal(c.workers, 4);
    assert.equal(c.workersPerAssignment, 4);
    assert.equal(c.downloadTimeoutSecs, 120);
    assert.equal(c.maxQueued, 200);
    assert.equal(c.maxDownloads, 16);
    assert.equal(c.authToken, undefined);
  });

  test('file < environment < flags', async () => {
    const path = join(dirs.base, 'config.toml');
    await writeFile(path, L_TEMPLATE);
    const c = resolveConfig({
      file: readConfigFile(path),
      env: {
        REBALANCER_AGENT_WORKERS: '2',
        REBALANCER_AGENT_METRICS_PORT: '9999',
        REBALANCER_AGENT_PORT: '1',
      },
      flags: new Map([
        ['server.port', '7000'],
        ['server.retry_delays_ms', '1,2'],
      ]),
    });
    assert.equal(c.workers, 2);
    assert.equal(c.maxQueued, 100, 'derived from the resolved workers');
    assert.equal(c.metrics.port, 9999);
    assert.equal(c.metrics.datacenter, 'us-east-1');
    assert.equal(c.port, 7000);
    assert.deepEqual(c.retryDelaysMs, [1, 2]);
  });

  test('JSON files are accepted', async () => {
    const path = join(dirs.base, 'config.json');
    await writeFile(path, JSON.stringify({ server: { workers: 3, id_policy: 'token' } }));
    const c = resolveConfig({ file: readConfigFile(path) });
    assert.equal(c.workers, 3);
    assert.equal(c.idPolicy, 'token');
  });

  test('invalid values name the option', () => {
    const bad: [Record<string, unknown>, string][] = [
      [{ server: { workers: 0 } }, 'server.workers'],
      [{ server: { port: 'x' } }, 'server.port'],
      [{ server: { port: 70000 } }, 'server.port'],
      [{ server: { wrokers: 1 } }, 'server.wrokers'],
      [{ server: { id_policy: 'any' } }, 'server.id_policy'],
      [{ server: { auth_token: 'short' } }, 'server.auth_token'],
      [{ metrics: { enabled: 'yes' } }, 'metrics.enabled'],
      [{ other: {} }, 'other'],
    ];
    for (const [file, option] of bad) {
      assert.throws(
        () => resolveConfig({ file }),
        (e: unknown) => e instanceof ConfigError && e.option === option,
        option,
      );
    }
    assert.throws(
      () => resolveConfig({ env: { REBALANCER_AGENT_WORKERS: 'four' } }),
      /server\.workers/,
    );
  });

  test('max_bytes_per_second: unlimited by default, from file (TOML, JSON), env and flags', async () => {
    assert.equal(resolveConfig({}).maxBytesPerSecond, 0);
    const toml = join(dirs.base, 'cap.toml');
    await writeFile(toml, '[server]\nworkers = 2\nmax_bytes_per_second = 10_485_760\n');
    assert.equal(resolveConfig({ file: readConfigFile(toml) }).maxBytesPerSecond, 10_485_760);
    const json = join(dirs.base, 'cap.json');
    await writeFile(json, JSON.stringify({ server: { max_bytes_per_second: 0 } }));
    assert.equal(resolveConfig({ file: readConfigFile(json) }).maxBytesPerSecond, 0);
    const env = { REBALANCER_AGENT_MAX_BYTES_PER_SECOND: '4194304' };
    assert.equal(resolveConfig({ file: readConfigFile(toml), env }).maxBytesPerSecond, 4194304);
    const flags = new Map([['server.max_bytes_per_second', '1000']]);
    assert.equal(resolveConfig({ env, flags }).maxBytesPerSecond, 1000);
  });

  test('max_bytes_per_second must be a non-negative integer', () => {
    for (const value of [-1, 1.5, '10M', true]) {
      assert.throws(
        () => resolveConfig({ file: { server: { max_bytes_per_second: value } } }),
        (e: unknown) => e instanceof ConfigError && e.option === 'server.max_bytes_per_second',
        String(value),
      );
    }
    assert.throws(
      () => resolveConfig({ env: { REBALANCER_AGENT_MAX_BYTES_PER_SECOND: '-5' } }),
      /server\.max_bytes_per_second: must be >= 0/,
    );
  });

  test('the executable exits non-zero naming the bad option', async () => {
    const path = join(dirs.base, 'bad.toml');
    await writeFile(path, '[server]\nworkers = -1\n');
    const r = spawnSync(process.execPath, [BIN, '--config', path], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /invalid configuration: server\.workers: must be >= 1/);
    const unparsable = join(dirs.base, 'broken.toml');
    await writeFile(unparsable, '[server\n');
    const r2 = spawnSync(process.execPath, [BIN, '-f', unparsable], { encoding: 'utf8' });
    assert.equal(r2.status, 2);
    assert.match(r2.stderr, /cannot parse .*broken\.toml as TOML: line 1, column 8: /);
  });
});
