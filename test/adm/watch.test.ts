/**
 * `job get --watch` over HTTP: it shows what the manager says of the job's progress, poll by
 * poll (a line each when not a terminal, in place on one), then the full status; `--json`
 * prints the statuses as they come. The manager here is a real HTTP server answering the
 * declared `GET /jobs/:uuid` with a scripted sequence, so the client's response checks apply.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ManagerClient } from '../../src/adm/client.ts';
import { watchJob } from '../../src/adm/watch.ts';
import type { JobStatus } from '../../src/api/manager.ts';
import type { JobProgress } from '../../src/api/progress.ts';

const ID = '3f2c1b4e-9d8a-4c7b-8e6f-5a4b3c2d1e0f';

function status(state: JobStatus['state'], progress: Partial<JobProgress>): JobStatus {
  const done = progress.objects_done ?? 0;
  return {
    config: { action: 'Evacuate', from_shark: { manta_storage_id: '1.stor.x', datacenter: 'dc1' } },
    state,
    results: {
      Unprocessed: 100 - done,
      Assigned: 0,
      Skipped: 0,
      Error: 0,
      'Post Processing': 0,
      Complete: done,
      Duplicates: 0,
      Total: 100,
    },
    progress: {
      objects_done: done,
      objects_total: 100,
      bytes_done: done * 1024,
      bytes_total: 100 * 1024,
      total_is_estimate: false,
      objects_per_second: 0,
      bytes_per_second: 0,
      eta_seconds: null,
      stalled: null,
      ...progress,
    },
  };
}

const SCRIPT: JobStatus[] = [
  status('Running', { objects_done: 10, total_is_estimate: true, objects_total: 120 }),
  status('Running', {
    objects_done: 10,
    stalled: { since: '2025-01-02T03:04:05Z', reason: 'shard 2: connect ETIMEDOUT (since 6m)' },
  }),
  status('Running', { objects_done: 60, objects_per_second: 20, eta_seconds: 2 }),
  status('Complete', { objects_done: 100 }),
];

describe('job get --watch', () => {
  let served = 0;
  const server = createServer((req, res) => {
    assert.equal(req.url, `/jobs/${ID}`);
    const body = SCRIPT[Math.min(served++, SCRIPT.length - 1)];
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  let client: ManagerClient;
  before(async () => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    client = new ManagerClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  });
  after(() => server.close());

  const collect = (isTTY: boolean) => {
    const written: string[] = [];
    return { written, out: { write: (t: string) => written.push(t), isTTY, columns: 200 } };
  };

  test('not a terminal: a line per poll with the manager progress, then the status', async () => {
    served = 0;
    const { written, out } = collect(false);
    const final = await watchJob(client, ID, { intervalMs: 5, json: false, out });
    assert.equal(final.state, 'Complete');
    const text = written.join('');
    const lines = text.split('\n');
    assert.match(lines[0] ?? '', /^Running .* 10\/~120 done .* 0\.0 obj\/s/);
    assert.doesNotMatch(lines[0] ?? '', /ETA/, 'no ETA from the manager, none shown');
    assert.match(lines[1] ?? '', /^Running .* 10\/100 done/);
    assert.equal(
      lines[2],
      '  stalled since 2025-01-02T03:04:05Z: shard 2: connect ETIMEDOUT (since 6m)',
    );
    assert.match(lines[3] ?? '', /60\/100 done .* 20 obj\/s .* ETA 2s$/);
    assert.match(lines[4] ?? '', /^Complete .*\] {2}100% {2}100\/100 done[^/]*KiB\/100 KiB$/);
    assert.match(text, /\n\nJob 3f2c1b4e-9d8a-4c7b-8e6f-5a4b3c2d1e0f\n=+\nState: Complete\n/);
    assert.ok(!text.includes('\x1b'), 'no escape codes');
  });

  test('a terminal: the frames are redrawn in place, the status follows the last one', async () => {
    served = 0;
    const { written, out } = collect(true);
    await watchJob(client, ID, { intervalMs: 5, json: false, out });
    const frames = written.slice(0, SCRIPT.length);
    assert.ok(
      frames.slice(1).every((f) => f.includes('\x1b[2K')),
      'each frame erases the last',
    );
    assert.match(written.at(-1) ?? '', /^\nJob [^\n]*\n=+\nState: Complete\n/);
  });

  test('--json: the statuses, one per line, as the manager gave them', async () => {
    served = 0;
    const { written, out } = collect(true);
    await watchJob(client, ID, { intervalMs: 5, json: true, out });
    assert.deepEqual(
      written.map((line) => JSON.parse(line)),
      SCRIPT,
    );
  });
});
