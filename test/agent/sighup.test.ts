/**
 * SIGHUP on a real agent process (bin/rebalancer-agent.js, from dist/): the config file is read
 * again and the new bandwidth cap shows in /metrics without a restart; an invalid file is
 * logged as an error and the process keeps running with the old cap.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type TempDirs, tempDirs } from './helpers.ts';

const BIN = fileURLToPath(new URL('../../bin/rebalancer-agent.js', import.meta.url));

interface LogRecord {
  level: number;
  msg: string;
  metrics_url?: string;
}

function configFile(cap: number | string): string {
  const value = typeof cap === 'number' ? String(cap) : JSON.stringify(cap);
  return `[server]\nmax_bytes_per_second = ${value}\n\n[metrics]\nhost = "127.0.0.1"\nport = 0\n`;
}

async function capOf(metricsUrl: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  const line = /^rebalancer_agent_max_bytes_per_second\{[^}]*\} (\S+)$/m.exec(text);
  assert.ok(line, 'rebalancer_agent_max_bytes_per_second missing');
  return Number(line[1]);
}

describe('agent process: SIGHUP reloads the configuration', () => {
  let dirs: TempDirs;
  let proc: ChildProcess | undefined;
  let exited: Promise<number | null>;
  const records: LogRecord[] = [];

  /** Resolves with the first log record (from now on) that `match` accepts. */
  function nextRecord(match: (r: LogRecord) => boolean, from = records.length): Promise<LogRecord> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no such log record within 10 s')), 10_000);
      const check = (): void => {
        const found = records.slice(from).find(match);
        if (found) {
          clearTimeout(timer);
          resolve(found);
        } else setTimeout(check, 10);
      };
      check();
    });
  }

  before(async () => {
    dirs = await tempDirs();
  });
  after(async () => {
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await exited;
    }
    await dirs.cleanup();
  });

  test('a new cap applies without a restart; an invalid file keeps the old one', async () => {
    const path = join(dirs.base, 'agent.toml');
    await writeFile(path, configFile(1_048_576));
    proc = spawn(
      process.execPath,
      [
        BIN,
        '--config',
        path,
        '--host=127.0.0.1',
        '--port=0',
        `--state-dir=${dirs.stateDir}`,
        `--object-root=${dirs.objectRoot}`,
        '--log-level=info',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const child = proc;
    exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        records.push(JSON.parse(line) as LogRecord);
      } catch {
        // Not a log record.
      }
    });
    const listening = await nextRecord((r) => r.msg === 'rebalancer agent listening', 0);
    const metricsUrl = listening.metrics_url!;
    assert.equal(await capOf(metricsUrl), 1_048_576);

    await writeFile(path, configFile(3_145_728));
    let from = records.length;
    child.kill('SIGHUP');
    const reloaded = await nextRecord((r) => r.msg.startsWith('configuration reloaded'), from);
    assert.match(reloaded.msg, /server\.max_bytes_per_second 1048576 -> 3145728/);
    assert.equal(await capOf(metricsUrl), 3_145_728);

    await writeFile(path, configFile('fast'));
    from = records.length;
    child.kill('SIGHUP');
    const failed = await nextRecord((r) => r.level === 50, from);
    assert.match(failed.msg, /configuration reload failed: keeping the running configuration/);
    assert.equal(child.exitCode, null, 'the agent keeps running');
    assert.equal(await capOf(metricsUrl), 3_145_728);

    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  });
});
