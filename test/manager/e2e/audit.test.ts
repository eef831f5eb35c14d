/**
 * The safe-to-remove audit end to end (issue 16), against the sandbox's real processes: the
 * real CLI (bin/rebalancer-adm.js) asks the manager, whose audit job scans the Moray shards and
 * asks the makos over HTTP. A shark with an unsafe object is a "no" (exit 1) naming it; fixed —
 * by another copy, or by evacuating the shark — it is a "yes" (exit 0), which the independent
 * verifier (src/sandbox/verify.ts, reading the shards and the makos' disks) confirms.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MorayClient } from '../../../src/moray/index.ts';
import { snapshotObjects, verifyEvacuation, verifySnapshot } from '../../../src/sandbox/verify.ts';
import { objectsOn, useSandbox } from './sandbox.ts';

const ADM = join(fileURLToPath(new URL('../../../', import.meta.url)), 'bin/rebalancer-adm.js');

function adm(url: string, ...args: string[]) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [ADM, '--url', url, ...args], (err, stdout, stderr) => {
      resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
    });
  });
}

describe('safe-to-remove audit end to end', { timeout: 300_000 }, () => {
  const sandbox = useSandbox('audit', { sharks: 4 });

  test('no audit yet: GET /sharks/{id}/audit is a 404 with a JSON body', async () => {
    const e2e = sandbox();
    const res = await fetch(`${e2e.managerUrl}/sharks/${e2e.shark(3)}/audit`);
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { code: string }).code, 'NotFound');
  });

  test('an only copy: no (exit 1) naming it; another copy put on a shark: yes (exit 0)', async () => {
    const e2e = sandbox();
    const audited = e2e.shark(3);
    const [single] = await e2e.putObjects([{ sharks: [audited] }]);
    await e2e.putObjects(Array.from({ length: 6 }, () => ({ sharks: [audited, e2e.shark(4)] })));
    assert.ok(single);

    const no = await adm(e2e.managerUrl, 'shark', 'audit', audited);
    assert.equal(no.code, 1, no.stdout + no.stderr);
    assert.equal(no.stdout.split('\n')[0], 'safe to remove: no');
    assert.match(no.stdout, new RegExp(`${single.replaceAll('/', '\\/')} +v1 +\\d+ +only_copy`));
    assert.match(no.stdout, /objects scanned: 7 /);

    // Another copy, as an operator would make it: the file on shark 4, the record naming it.
    const snapshot = await snapshotObjects(e2e.sandbox);
    const object = snapshot.get(single);
    const from = e2e.sandbox.sharks.find((s) => s.manta_storage_id === audited);
    const to = e2e.sandbox.sharks.find((s) => s.manta_storage_id === e2e.shark(4));
    assert.ok(object && from && to);
    await mkdir(join(to.root, object.owner), { recursive: true });
    await copyFile(
      join(from.root, object.owner, object.objectId),
      join(to.root, object.owner, object.objectId),
    );
    const shard = e2e.sandbox.shards.find((s) => s.name === object.shard);
    assert.ok(shard);
    const client = new MorayClient({
      host: shard.host,
      port: shard.port,
      connections: 1,
      healthCheckIntervalMs: 0,
    });
    try {
      const record = await client.getObject('manta', single);
      await client.putObject('manta', single, {
        ...record.value,
        sharks: [
          { datacenter: e2e.datacenterOf(audited), manta_storage_id: audited },
          { datacenter: to.datacenter, manta_storage_id: to.manta_storage_id },
        ],
      });
    } finally {
      await client.close();
    }

    const yes = await adm(e2e.managerUrl, '--json', 'shark', 'audit', audited, '--deep');
    assert.equal(yes.code, 0, yes.stdout + yes.stderr);
    const outcome = JSON.parse(yes.stdout);
    assert.equal(outcome.safe_to_remove, true);
    assert.equal(outcome.audit.verdict, 'safe');
    assert.equal(outcome.audit.deep, true);
    assert.equal(outcome.audit.safe, 7);
    const human = await adm(e2e.managerUrl, 'shark', 'audit', audited);
    assert.equal(human.code, 0);
    assert.equal(human.stdout.split('\n')[0], 'safe to remove: yes');

    // The verifier, on its own: every object on the shark has another copy, whole on disk.
    const now = await snapshotObjects(e2e.sandbox);
    const onShark = objectsOn(now, audited);
    assert.equal(onShark.length, 7);
    for (const o of onShark) assert.ok(new Set(o.sharks).size >= 2, `${o.key}: one copy`);
    const verified = await verifySnapshot(e2e.sandbox, now, {
      evacuated: audited,
      before: new Map(onShark.map((o) => [o.key, o])),
      skipped: new Set(onShark.map((o) => o.key)),
    });
    assert.deepEqual(verified.problems, []);
    assert.equal(verified.verified, 7);

    // The report stays readable through the API.
    const res = await fetch(`${e2e.managerUrl}/sharks/${audited}/audit`);
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { verdict: string }).verdict, 'safe');
  });

  test('evacuated, the shark is safe to remove: yes, and the verifier agrees', async () => {
    const e2e = sandbox();
    const evac = e2e.shark(1);
    const [single] = await e2e.putObjects([{ sharks: [evac] }]);
    await e2e.putObjects(Array.from({ length: 8 }, () => ({ sharks: [evac, e2e.shark(2)] })));
    const no = await adm(e2e.managerUrl, 'shark', 'audit', evac);
    assert.equal(no.code, 1, no.stdout + no.stderr);
    assert.ok(single && no.stdout.includes(single), no.stdout);

    const before = await snapshotObjects(e2e.sandbox);
    const id = await e2e.manager.createEvacuate(evac);
    const status = await e2e.waitForJob(id);
    assert.equal(status.state, 'Complete', JSON.stringify(status));

    const yes = await adm(e2e.managerUrl, 'shark', 'audit', evac, '--deep');
    assert.equal(yes.code, 0, yes.stdout + yes.stderr);
    assert.equal(yes.stdout.split('\n')[0], 'safe to remove: yes');
    const result = await verifyEvacuation(e2e.sandbox, { evacuated: evac, before });
    assert.deepEqual(result.problems, []);
    assert.equal(result.stillOnEvacuated, 0);
    assert.equal(result.lost, 0);
  });
});
