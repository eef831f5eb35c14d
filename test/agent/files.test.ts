/**
 * The agent's file routes against real files in a temp object root, over real HTTP: pages in
 * path order that resume exactly after their cursor, v1 and v2 names recognised and everything
 * else skipped (and counted), the routes closed without an auth token (403) and behind it (401),
 * and deletion that checks every path first, deletes real files, tolerates ENOENT and leaves a
 * file written again since its listing alone.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type RunningAgent, startAgent } from '../../src/agent/agent.ts';
import { listObjectFiles } from '../../src/agent/files-walk.ts';
import { DirectoryWindows } from '../../src/agent/files-windows.ts';
import type { DeleteFilesAnswer, FilesPage, ObjectFile } from '../../src/api/agent-files.ts';
import { md5Hex, objectPath } from '../../src/manta/index.ts';
import { silentLog, type TempDirs, tempDirs, testConfig } from './helpers.ts';

const TOKEN = 'files-test-token-0123456789';

async function put(root: string, path: string, bytes = 10): Promise<void> {
  const file = join(root, path);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, Buffer.alloc(bytes, 1));
}

/** Component-wise path order: what the walk promises. */
function pathOrder(a: string, b: string): number {
  const pa = a.split('/');
  const pb = b.split('/');
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    if (pa[i] !== pb[i]) return (pa[i] as string) < (pb[i] as string) ? -1 : 1;
  }
  return pa.length - pb.length;
}

/** A tree of v1 and v2 object files and strays; returns the object paths, in path order. */
async function buildTree(root: string): Promise<{ objects: string[]; strays: number }> {
  const objects: string[] = [];
  const owners = [randomUUID(), randomUUID()];
  for (const owner of owners) {
    for (let i = 0; i < 5; i++) {
      const path = objectPath({ owner, objectId: randomUUID() });
      await put(root, path, i + 1);
      objects.push(path);
    }
    for (let i = 0; i < 6; i++) {
      const objectId = randomUUID();
      const bucketId = i < 3 ? '5fd1d7c0-8d5a-4a4e-9b39-111111111111' : randomUUID();
      const path = objectPath({ owner, objectId, bucketId, objectNameHash: md5Hex(`n${i}`) });
      await put(root, path);
      objects.push(path);
    }
  }
  const [o1] = owners as [string];
  // Strays: the agent's temp area and mako's nginx_temp (not entered), a file at the root, a
  // directory and a bad name among v1 objects, a symlink, v2 leaves with a wrong prefix or no
  // name hash, and a file where a v2 bucket directory belongs.
  await put(root, `/.rebalancer-tmp/${o1}.${randomUUID()}.1`);
  await put(root, `/nginx_temp/0000000001`);
  await put(root, '/stray.txt');
  await mkdir(join(root, o1, randomUUID()));
  await put(root, `/${o1}/not-an-object-id`);
  await symlink(join(root, objects[0] as string), join(root, o1, randomUUID()));
  const id = randomUUID();
  await put(root, `/v2/${o1}/${randomUUID()}/zz/${id},${md5Hex('x')}`);
  await put(root, `/v2/${o1}/${randomUUID()}/${id.slice(0, 2)}/${id}`);
  await put(root, `/v2/${o1}/${randomUUID()}`);
  return { objects: objects.sort(pathOrder), strays: 9 };
}

async function getPage(agent: RunningAgent, query: string, token?: string) {
  const res = await fetch(`${agent.url}/files${query}`, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function postDelete(agent: RunningAgent, body: unknown, token: string | undefined = TOKEN) {
  const res = await fetch(`${agent.url}/files/delete`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Every page from the start (or after `after`), `limit` at a time. */
async function listAll(agent: RunningAgent, limit: number, after?: string) {
  const files: ObjectFile[] = [];
  let skipped = 0;
  let cursor = after;
  let pages = 0;
  do {
    const q = `?limit=${limit}${cursor === undefined ? '' : `&after=${encodeURIComponent(cursor)}`}`;
    const { status, body } = await getPage(agent, q, TOKEN);
    assert.equal(status, 200, JSON.stringify(body));
    const page = body as unknown as FilesPage;
    assert.ok(page.files.length <= limit);
    files.push(...page.files);
    skipped += page.skipped;
    cursor = page.next;
    pages++;
  } while (cursor !== undefined);
  return { files, skipped, pages };
}

describe('agent file routes', () => {
  let dirs: TempDirs;
  let agent: RunningAgent;
  let open: RunningAgent;
  let tree: { objects: string[]; strays: number };

  before(async () => {
    dirs = await tempDirs();
    tree = await buildTree(dirs.objectRoot);
    agent = await startAgent(testConfig(dirs, { authToken: TOKEN }), { log: silentLog });
    open = await startAgent(testConfig(dirs, { stateDir: join(dirs.base, 'open') }), {
      log: silentLog,
    });
  });
  after(async () => {
    await agent?.close();
    await open?.close();
    await dirs?.cleanup();
  });

  test('pages list every v1 and v2 object file once, in path order, with size and mtime', async () => {
    for (const limit of [1, 3, 7, 1000]) {
      const { files, skipped, pages } = await listAll(agent, limit);
      assert.deepEqual(
        files.map((f) => f.path),
        tree.objects,
        `limit ${limit}`,
      );
      assert.equal(skipped, tree.strays, `limit ${limit}: strays counted once`);
      // Entries that only an lstat tells from files (a link, a directory with an object's
      // name) fill a page's slots too: a page may hold fewer files than its limit.
      assert.ok(pages >= Math.ceil(tree.objects.length / limit), `limit ${limit}: ${pages} pages`);
      assert.ok(pages <= Math.ceil((tree.objects.length + 2) / limit), `limit ${limit}: ${pages}`);
    }
    const { files } = await listAll(agent, 1000);
    for (const f of files.slice(0, 3)) {
      const s = await stat(join(dirs.objectRoot, f.path));
      assert.equal(f.size, s.size);
      assert.equal(f.mtime, Math.floor(s.mtimeMs));
    }
  });

  test('a page resumes strictly after its cursor, even one that no longer exists', async () => {
    const cursor = tree.objects[7] as string;
    const { files } = await listAll(agent, 4, cursor);
    assert.deepEqual(
      files.map((f) => f.path),
      tree.objects.slice(8),
    );
    // A cursor between two files (a file deleted since): the next file after it in path order.
    const gone = `${cursor.slice(0, -1)}${cursor.endsWith('0') ? '1' : '0'}`;
    const expected = [...tree.objects, gone].sort(pathOrder).filter((p) => pathOrder(p, gone) > 0);
    const resumed = await listAll(agent, 1000, gone);
    assert.deepEqual(
      resumed.files.map((f) => f.path),
      expected,
    );
  });

  test('a directory read in windows smaller than itself lists the same files', async () => {
    for (const window of [1, 2, 5]) {
      const windows = new DirectoryWindows({ window, maxCachedNames: 3 });
      const paths: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await listObjectFiles(dirs.objectRoot, windows, cursor, 2);
        paths.push(...page.files.map((f) => f.path));
        cursor = page.next;
      } while (cursor !== undefined);
      assert.deepEqual(paths, tree.objects, `window ${window}`);
    }
  });

  test('a bad query is a 400 naming it', async () => {
    const big = await getPage(agent, '?limit=10001', TOKEN);
    assert.equal(big.status, 400);
    assert.equal(big.body.field, 'limit');
    const cursor = await getPage(agent, `?after=${encodeURIComponent('/../etc')}`, TOKEN);
    assert.equal(cursor.status, 400);
    assert.equal(cursor.body.field, 'after');
    assert.equal((await getPage(agent, '?limit=0', TOKEN)).status, 400);
  });

  test('without server.auth_token both routes answer 403 AuthRequired; with it, 401 without the token', async () => {
    const list = await getPage(open, '');
    assert.equal(list.status, 403);
    assert.equal(list.body.code, 'AuthRequired');
    const del = await postDelete(open, { files: [{ path: tree.objects[0], size: 1, mtime: 0 }] });
    assert.equal(del.status, 403);
    assert.equal(del.body.code, 'AuthRequired');
    // Refused before the body is looked at: a bad body is not a 400 either.
    assert.equal((await postDelete(open, { nonsense: true })).status, 403);
    assert.equal((await getPage(agent, '')).status, 401);
    assert.equal((await getPage(agent, '', 'wrong-token-wrong-token-00')).status, 401);
    assert.equal(
      (await postDelete(agent, { files: [] }, 'wrong-token-wrong-token-00')).status,
      401,
    );
    assert.ok(await stat(join(dirs.objectRoot, tree.objects[0] as string)));
  });

  test('delete checks every path first: one bad path is a 400 naming it, and nothing is deleted', async () => {
    const [first] = (await listAll(agent, 1)).files as [ObjectFile];
    for (const bad of [
      '/../../etc/passwd',
      `/${randomUUID()}/../${randomUUID()}`,
      '/v2/x',
      `/${randomUUID()}`,
      'relative/path',
    ]) {
      const res = await postDelete(agent, { files: [first, { path: bad, size: 1, mtime: 0 }] });
      assert.equal(res.status, 400, bad);
      assert.equal(res.body.field, 'files[1].path', bad);
    }
    assert.ok(await stat(join(dirs.objectRoot, first.path)), 'the good path was not deleted');
    const tooMany = Array.from({ length: 1001 }, () => first);
    assert.equal((await postDelete(agent, { files: tooMany })).status, 400);
  });

  test('delete removes real files, reports ENOENT as absent and a rewritten file as changed', async () => {
    const owner = randomUUID();
    const paths = [0, 1, 2].map(() => objectPath({ owner, objectId: randomUUID() }));
    for (const p of paths) await put(dirs.objectRoot, p, 100);
    const listed = (await listAll(agent, 1000)).files.filter((f) => paths.includes(f.path));
    assert.equal(listed.length, 3);
    const [a, b, c] = paths.map((p) => listed.find((f) => f.path === p)) as ObjectFile[] as [
      ObjectFile,
      ObjectFile,
      ObjectFile,
    ];
    // `c` is written again after its listing: another mtime.
    await utimes(join(dirs.objectRoot, c.path), new Date(), new Date(c.mtime + 5000));
    const missing = { path: objectPath({ owner, objectId: randomUUID() }), size: 1, mtime: 1 };
    const res = await postDelete(agent, { files: [a, b, c, missing] });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual((res.body as unknown as DeleteFilesAnswer).results, [
      { path: a.path, outcome: 'deleted' },
      { path: b.path, outcome: 'deleted' },
      { path: c.path, outcome: 'changed' },
      { path: missing.path, outcome: 'absent' },
    ]);
    assert.deepEqual(await readdir(join(dirs.objectRoot, owner)), [c.path.split('/')[2]]);
    const again = await postDelete(agent, { files: [a] });
    assert.deepEqual((again.body as unknown as DeleteFilesAnswer).results, [
      { path: a.path, outcome: 'absent' },
    ]);
  });
});
