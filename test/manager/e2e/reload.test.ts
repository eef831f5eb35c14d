/**
 * A real manager process and SIGUSR1 (L's signal_handler_config_update, with a real signal):
 * the manager is started with a config, the file is changed and the signal sent, and the effect
 * is observed from outside: refused keys named in the log, the log level changed, a new
 * agent_auth_token and blocklist used by the next job's placements and posts. The agents are
 * real, started with `auth_token`: a wrong manager token fails the job visibly (HTTP 401); the
 * right one completes it. The metrics' `datacenter` label comes from the config.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { E2ESandbox } from './sandbox.ts';

const TOKEN = 'reload-test-agent-token-0123';
const WRONG = 'not-the-agents-token-0000000';

describe('manager reload (SIGUSR1) and agent auth, real processes', { timeout: 240_000 }, () => {
  let e2e: E2ESandbox;
  let configPath: string;

  before(async () => {
    // dc1: sharks 1 3 5, dc2: 2 4 6.
    e2e = await E2ESandbox.start('reload', {
      domain: 'reload.test',
      shards: 1,
      sharks: 6,
      datacenters: 2,
      sharkCapacityBytes: 1024 ** 3,
    });
    configPath = join(e2e.dir, 'manager', 'config.json');
    for (let n = 1; n <= 6; n++) {
      await e2e.halt(`agent ${e2e.shark(n)}`);
      await e2e.restartAgent(n, { auth_token: TOKEN });
    }
    await editConfig({ agent_auth_token: WRONG, datacenter: 'east-1' });
    await e2e.halt('manager');
    await e2e.restartManager();
  });
  after(async () => {
    await e2e?.stop();
  });

  async function editConfig(changes: Record<string, unknown>): Promise<void> {
    const config = JSON.parse(await readFile(configPath, 'utf8')) as Record<string, unknown>;
    await writeFile(configPath, JSON.stringify({ ...config, ...changes }));
  }

  /** Parsed log records of the manager from line `from` on. */
  async function records(from: number): Promise<Record<string, unknown>[]> {
    return (await e2e.logLines('manager'))
      .slice(from)
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  /** Sends SIGUSR1 and waits for a record satisfying `done`; returns the records since. */
  async function reload(done: (r: Record<string, unknown>) => boolean) {
    const from = (await e2e.logLines('manager')).length - 1;
    process.kill(e2e.process('manager').pid, 'SIGUSR1');
    const deadline = Date.now() + 20_000;
    for (;;) {
      const since = await records(from);
      if (since.some(done)) return since;
      if (Date.now() > deadline) throw new Error(`no reload record: ${JSON.stringify(since)}`);
      await sleep(100);
    }
  }

  test('metrics carry the configured datacenter label', async () => {
    const text = await (await fetch(`${e2e.managerUrl}/metrics`)).text();
    const gauge = text.split('\n').find((l) => l.startsWith('md_thread_gauge{'));
    assert.match(gauge ?? '', /datacenter="east-1"/);
    assert.equal(text.includes('datacenter="unknown"'), false);
  });

  test('wrong token: the job fails with the 401 named; after SIGUSR1 with the right token and a blocklist, the next job completes off the blocked shark', async () => {
    // Copies on 1 (dc1) and 2 (dc2): the only allowed destinations are 3 and 5 (dc1).
    const keys = await e2e.putObjects(
      Array.from({ length: 20 }, () => ({ sharks: [e2e.shark(1), e2e.shark(2)] })),
    );
    const refused = await e2e.waitForJob(await e2e.evacuate(1), undefined, 90_000);
    assert.equal(refused.state, 'Failed', JSON.stringify(refused));
    assert.match(refused.error ?? '', /401/, JSON.stringify(refused));
    for (const key of keys) {
      const sharks = (await e2e.getRecord(key)).sharks as { manta_storage_id: string }[];
      assert.ok(
        sharks.some((s) => s.manta_storage_id === e2e.shark(1)),
        'nothing moved',
      );
    }

    await editConfig({
      agent_auth_token: TOKEN,
      log_level: 'warn',
      options: { blocklist: [e2e.shark(3)] },
      // Bound at start: refused, by name.
      metrics_port: 9,
      storinfo_url: 'http://127.0.0.1:1',
    });
    const since = await reload((r) => String(r.msg).includes('storinfo_url'));
    const warned = since.filter((r) => r.level === 40).map((r) => r.key);
    assert.deepEqual(warned.sort(), ['metrics_port', 'storinfo_url']);
    const mark = (await e2e.logLines('manager')).length - 1;

    const status = await e2e.waitForJob(await e2e.evacuate(1), undefined, 90_000);
    assert.equal(status.state, 'Complete', JSON.stringify(status));
    assert.equal(status.results.Complete, keys.length, JSON.stringify(status));
    for (const key of keys) {
      const sharks = ((await e2e.getRecord(key)).sharks as { manta_storage_id: string }[]).map(
        (s) => s.manta_storage_id,
      );
      assert.deepEqual(sharks.sort(), [e2e.shark(2), e2e.shark(5)].sort(), key);
    }
    // log_level warn: the whole job ran without one info record.
    assert.deepEqual(
      (await records(mark)).filter((r) => (r.level as number) < 40),
      [],
    );

    // Back to info: the reload's own summary is visible again, naming what changed.
    await editConfig({ log_level: 'info' });
    const summary = (await reload((r) => r.msg === 'configuration reloaded')).find(
      (r) => r.msg === 'configuration reloaded',
    );
    assert.deepEqual(summary?.live, ['log_level']);
    // Still refused: the file keeps asking for them.
    assert.deepEqual([...((summary?.refused ?? []) as string[])].sort(), [
      'metrics_port',
      'storinfo_url',
    ]);
  });
});
