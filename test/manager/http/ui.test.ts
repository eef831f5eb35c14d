import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { registerConsoleUi } from '../../../src/manager/http/ui.ts';
import { PACKAGE_ROOT } from '../../../src/package-info.ts';
import { rawRequest } from '../../support/raw-http.ts';

const SECRET = 'not-for-the-console';

/** A real fastify app on 127.0.0.1 port 0 serving the console from `dir` (default: dist/ui). */
async function serve(dir?: string): Promise<{ app: FastifyInstance; url: string; port: number }> {
  const app = Fastify({ logger: false });
  registerConsoleUi(app, dir === undefined ? {} : { dir });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return { app, url: `http://127.0.0.1:${port}`, port };
}

describe('the console under /ui', () => {
  let root: string;
  let server: Awaited<ReturnType<typeof serve>>;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'console-ui-'));
    const dir = join(root, 'ui');
    await mkdir(join(dir, 'sub.js'), { recursive: true });
    await writeFile(join(dir, 'index.html'), '<!doctype html><title>console</title>');
    await writeFile(join(dir, 'app.js'), 'console.log(1);');
    await writeFile(join(dir, 'app.css'), 'body{}');
    await writeFile(join(dir, 'app.js.map'), '{"version":3}');
    await writeFile(join(dir, '.hidden.js'), SECRET);
    await writeFile(join(root, 'secret.js'), SECRET);
    await writeFile(join(root, 'secret.txt'), SECRET);
    server = await serve(dir);
  });

  after(async () => {
    await server?.app.close();
    await rm(root, { recursive: true, force: true });
  });

  test('GET /ui/ is the page, not cached stale, with a strict content security policy', async () => {
    const res = await fetch(`${server.url}/ui/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.equal(await res.text(), '<!doctype html><title>console</title>');
  });

  test('its files have their content types', async () => {
    for (const [file, type, body] of [
      ['app.js', 'text/javascript; charset=utf-8', 'console.log(1);'],
      ['app.css', 'text/css; charset=utf-8', 'body{}'],
      ['app.js.map', 'application/json; charset=utf-8', '{"version":3}'],
      ['index.html', 'text/html; charset=utf-8', '<!doctype html><title>console</title>'],
    ]) {
      const res = await fetch(`${server.url}/ui/${file}`);
      assert.equal(res.status, 200, file);
      assert.equal(res.headers.get('content-type'), type, file);
      assert.equal(res.headers.get('cache-control'), 'no-cache', file);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', file);
      assert.equal(await res.text(), body, file);
    }
    const head = await fetch(`${server.url}/ui/app.js`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-type'), 'text/javascript; charset=utf-8');
  });

  test('/ and /ui redirect to /ui/', async () => {
    for (const path of ['/', '/ui']) {
      const res = await fetch(`${server.url}${path}`, { redirect: 'manual' });
      assert.equal(res.status, 302, path);
      assert.equal(res.headers.get('location'), '/ui/', path);
    }
  });

  test('an unknown file, a directory, a dot file or an unknown kind is a 404 in JSON', async () => {
    for (const path of [
      '/ui/nope.js',
      '/ui/sub.js',
      '/ui/.hidden.js',
      '/ui/index.php',
      '/ui/a/b.js',
    ]) {
      const res = await fetch(`${server.url}${path}`);
      assert.equal(res.status, 404, path);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/, path);
      const body = (await res.json()) as { code: string; message: string };
      assert.equal(body.code, 'NotFound', path);
      assert.equal(typeof body.message, 'string', path);
    }
  });

  test('no path reaches outside the directory, however it is spelled', async () => {
    const paths = [
      '/ui/../secret.js',
      '/ui/..%2fsecret.js',
      '/ui/%2e%2e/secret.js',
      '/ui/%2e%2e%2fsecret.js',
      '/ui/..%5csecret.js',
      '/ui/sub.js/../../secret.js',
      '/ui//etc/passwd',
      '/ui/%2fetc%2fpasswd',
      `/ui/${encodeURIComponent(join(root, 'secret.txt'))}`,
      '/ui/secret.js%00.js',
    ];
    for (const path of paths) {
      const res = await rawRequest(
        server.port,
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
      );
      assert.notEqual(res.status, 200, path);
      assert.ok(res.status >= 400 && res.status < 500, `${path}: ${res.statusLine}`);
      assert.ok(!res.body.includes(SECRET), path);
      assert.ok(!res.body.includes('root:'), path);
    }
  });

  test('without a built console, /ui/ answers 503 saying how to build it', async () => {
    const missing = await serve(join(root, 'not-built'));
    try {
      for (const path of ['/ui/', '/ui/app.js']) {
        const res = await fetch(`${missing.url}${path}`);
        assert.equal(res.status, 503, path);
        assert.deepEqual(await res.json(), {
          code: 'ServiceUnavailable',
          message: 'console not built: run npm run build',
        });
      }
    } finally {
      await missing.app.close();
    }
  });

  test('by default it serves dist/ui of the package', async () => {
    const built = existsSync(join(PACKAGE_ROOT, 'dist', 'ui'));
    const fallback = await serve();
    try {
      const res = await fetch(`${fallback.url}/ui/`);
      assert.equal(res.status, built ? 200 : 503);
    } finally {
      await fallback.app.close();
    }
  });
});
