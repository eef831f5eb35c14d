/**
 * Orphans end to end (issue 16), against the sandbox's real processes (Moray and two
 * buckets-mdapi shards, makos, agents with a token, the manager) through the real CLI
 * (bin/rebalancer-adm.js): after a shark is evacuated, `shark orphans` lists exactly the files
 * the evacuation moved away — every one of them, no file a live record names (checked against
 * the shards' metadata and the mako's directory, v1 and v2) — and neither a user's object
 * written to the shark afterwards nor an upload whose record is not written yet. `--delete` is
 * refused until the shark's latest audit says safe; then the mako holds only live files.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { objectNameHash, objectPath, parseObjectPath } from '../../../src/manta/index.ts';
import type { SandboxDescription } from '../../../src/sandbox/description.ts';
import { snapshotObjects } from '../../../src/sandbox/verify.ts';
import { snapshotBucketsObjects } from '../../../src/sandbox/verify-buckets.ts';
import { type BucketsSandbox, bucketsLookups, startBucketsSandbox } from './buckets-fixture.ts';

const ADM = join(fileURLToPath(new URL('../../../', import.meta.url)), 'bin/rebalancer-adm.js');

function adm(cwd: string, url: string, ...args: string[]) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [ADM, '--url', url, ...args], { cwd }, (err, stdout, stderr) => {
      resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
    });
  });
}

/** The object files under a mako root, as root-relative paths. */
async function makoFiles(root: string): Promise<Set<string>> {
  const out = new Set<string>();
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  for (const e of entries) {
    if (!e.isFile()) continue;
    const path = `/${relative(root, join(e.parentPath, e.name))}`;
    if (parseObjectPath(path) !== undefined) out.add(path);
  }
  return out;
}

/** The paths on `shark` that live metadata (Moray and buckets) names now. */
async function livePaths(sandbox: SandboxDescription, shark: string): Promise<Set<string>> {
  const out = new Set<string>();
  for (const o of (await snapshotObjects(sandbox)).values()) {
    if (o.sharks.includes(shark)) out.add(objectPath({ owner: o.owner, objectId: o.objectId }));
  }
  for (const o of (await snapshotBucketsObjects(sandbox)).values()) {
    if (!o.sharks.includes(shark)) continue;
    out.add(
      objectPath({
        owner: o.owner,
        objectId: o.id,
        bucketId: o.bucket_id,
        objectNameHash: objectNameHash(o.name),
      }),
    );
  }
  return out;
}

const sorted = (s: Iterable<string>) => [...s].sort();

describe('orphans on an evacuated shark, end to end', { timeout: 300_000 }, () => {
  let fixture: BucketsSandbox | undefined;
  let cwd = '';
  before(async () => {
    fixture = await startBucketsSandbox('orphans', 'orphans.test', {}, 'photos');
    cwd = join(fixture.e2e.dir, 'adm');
    await mkdir(cwd);
  });
  after(async () => {
    await fixture?.stop();
  });
  const { shark } = bucketsLookups(() => {
    assert.ok(fixture);
    return fixture;
  });

  test('lists exactly the evacuated files; deletes them only after a safe audit', async () => {
    assert.ok(fixture);
    const { e2e, writer, owner, bucketId } = fixture;
    const url = e2e.managerUrl;
    const evac = shark(1);
    const id = evac.manta_storage_id;
    await e2e.putObjects([
      ...Array.from({ length: 6 }, () => ({ sharks: [id, e2e.shark(2)] })),
      ...Array.from({ length: 2 }, () => ({ sharks: [id, e2e.shark(4)] })),
      // The only copy: the audit says no until the evacuation copies it.
      { sharks: [id] },
    ]);
    for (let i = 0; i < 4; i++) {
      await writer.createObject(
        {
          owner,
          bucketId,
          name: `photos/${i}.jpg`,
          id: randomUUID(),
          content: randomBytes(300),
          contentType: 'image/jpeg',
          copies: [evac, shark(2)],
          writeFiles: true,
          headers: {},
        },
        randomUUID(),
      );
    }
    const onShark = await livePaths(e2e.sandbox, id);
    assert.equal(onShark.size, 13);
    assert.deepEqual(sorted(await makoFiles(evac.root)), sorted(onShark));

    // Live, every file is kept: nothing is an orphan, whatever the grace.
    const live = await adm(cwd, url, '--json', 'shark', 'orphans', id, '--grace-seconds', '0');
    assert.equal(live.code, 0, live.stderr);
    const liveSummary = JSON.parse(live.stdout);
    assert.equal(liveSummary.files, 0);
    assert.equal(liveSummary.kept, 13);
    assert.equal(await readFile(join(cwd, `orphans-${id}.txt`), 'utf8'), '');

    // No audit yet, then an unsafe one: deletion is refused.
    const noAudit = await adm(cwd, url, 'shark', 'orphans', id, '--delete');
    assert.equal(noAudit.code, 1);
    assert.match(noAudit.stderr, /409: .*no complete audit/);
    assert.equal((await adm(cwd, url, 'shark', 'audit', id)).code, 1);
    const unsafe = await adm(cwd, url, 'shark', 'orphans', id, '--delete');
    assert.equal(unsafe.code, 1);
    assert.match(unsafe.stderr, /409: .*not safe to remove/);
    assert.equal((await makoFiles(evac.root)).size, 13);

    const job = await e2e.manager.createEvacuate(id);
    assert.equal((await e2e.waitForJob(job)).state, 'Complete');
    assert.equal((await livePaths(e2e.sandbox, id)).size, 0);
    const evacuated = await makoFiles(evac.root);
    assert.deepEqual(sorted(evacuated), sorted(onShark), 'the evacuation deletes nothing');

    // The files age past the grace time; then a user writes an object to the shark (its old
    // file must stay for its record), and an upload's file lands with no record yet.
    const old = new Date(Date.now() - 2 * 3600_000);
    for (const path of evacuated) await utimes(join(evac.root, path), old, old);
    const [userKey] = await e2e.putObjects([{ sharks: [id, e2e.shark(2)] }]);
    const userFiles = await livePaths(e2e.sandbox, id);
    assert.equal(userFiles.size, 1, userKey);
    for (const path of userFiles) await utimes(join(evac.root, path), old, old);
    const upload = objectPath({ owner: randomUUID(), objectId: randomUUID() });
    await mkdir(dirname(join(evac.root, upload)), { recursive: true });
    await writeFile(join(evac.root, upload), randomBytes(100));

    const listed = await adm(cwd, url, '--json', 'shark', 'orphans', id, '-o', 'list.txt');
    assert.equal(listed.code, 0, listed.stderr);
    const paths = (await readFile(join(cwd, 'list.txt'), 'utf8')).split('\n').filter(Boolean);
    assert.deepEqual(sorted(paths), sorted(evacuated), 'exactly the evacuated files');
    const dir = await makoFiles(evac.root);
    const expected = [...dir].filter((p) => !userFiles.has(p) && p !== upload);
    assert.deepEqual(sorted(paths), sorted(expected), "the mako's files but the live and new ones");
    const summary = JSON.parse(listed.stdout);
    assert.equal(summary.files, 13);
    assert.equal(summary.kept, 1);
    assert.equal(summary.too_recent, 1);
    assert.equal(summary.live_records, 1);
    let bytes = 0;
    for (const p of evacuated) bytes += (await stat(join(evac.root, p))).size;
    assert.equal(summary.bytes, bytes);
    const human = await adm(cwd, url, 'shark', 'orphans', id, '--format', 'ndjson', '-o', 'o.json');
    assert.match(human.stdout, new RegExp(`^orphans on ${id.replaceAll('.', '\\.')}: 13 files`));
    const [first] = (await readFile(join(cwd, 'o.json'), 'utf8')).split('\n');
    const line = JSON.parse(first ?? '{}') as { path: string; size: number; mtime: number };
    const onDisk = await stat(join(evac.root, line.path));
    assert.equal(line.size, onDisk.size);
    assert.equal(line.mtime, Math.floor(onDisk.mtimeMs));

    // Safe now: the deletion finds the orphans afresh and deletes exactly them.
    const audit = await adm(cwd, url, 'shark', 'audit', id);
    assert.equal(audit.code, 0, audit.stdout + audit.stderr);
    const deleted = await adm(
      cwd,
      url,
      '--json',
      'shark',
      'orphans',
      id,
      '--delete',
      '-o',
      'd.txt',
    );
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal(JSON.parse(deleted.stdout).deleted, 13);
    const gone = (await readFile(join(cwd, 'd.txt'), 'utf8')).split('\n').filter(Boolean);
    assert.deepEqual(sorted(gone), sorted(evacuated));
    assert.deepEqual(sorted(await makoFiles(evac.root)), sorted([...userFiles, upload]));
    assert.deepEqual(sorted(await livePaths(e2e.sandbox, id)), sorted(userFiles));
  });
});
