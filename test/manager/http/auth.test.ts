/**
 * The API's bearer tokens (issue 17, src/manager/http/auth.ts) on a real listening manager:
 * api_token guards every mutating request, api_token_read every read, /ui and `GET /` stay
 * open, and the tokens come from the config per request, so a reload applies at once.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../../../src/log/index.ts';
import { type ManagerConfig, parseConfig } from '../../../src/manager/config.ts';
import { reloadConfig } from '../../../src/manager/reload.ts';
import { type ManagerService, startManagerService } from '../../../src/manager/service.ts';
import { StaticSharkDirectory } from '../../../src/manager/sharks.ts';
import { createTestDatabase, type TestDatabase } from '../../support/database.ts';
import { rawRequest } from '../../support/raw-http.ts';

const API = 'the-api-token-for-tests-0';
const READ = 'the-read-token-for-tests-0';
const base = { domain_name: 'example.com', shards: [{ host: '1.moray.example.com' }] };

interface Answer {
  status: number;
  body: string;
  challenge: string | null;
}

describe('manager API tokens', () => {
  let tdb: TestDatabase;
  let service: ManagerService;
  let url: string;
  let port: number;
  let config: ManagerConfig = parseConfig(base);
  /** As main.ts does on SIGUSR1: the re-read file merged into the running config. */
  const reload = (keys: Record<string, string>) => {
    config = reloadConfig(config, parseConfig({ ...base, ...keys })).config;
  };

  before(async () => {
    tdb = await createTestDatabase();
    service = await startManagerService({
      db: tdb.db,
      log: createLogger({ name: 'auth-test', level: 'silent' }),
      // Jobs run until stopped; one started as the manager stops is stopped already.
      executor: (ctx) =>
        new Promise<void>((_, reject) => {
          const stop = () => reject(ctx.signal.reason);
          if (ctx.signal.aborted) stop();
          else ctx.signal.addEventListener('abort', stop, { once: true });
        }),
      sharks: new StaticSharkDirectory(
        [1, 2, 3, 4, 5, 6].map((n) => ({
          manta_storage_id: `${n}.stor.example.com`,
          datacenter: 'dc1',
        })),
        'example.com',
      ),
      settings: () => ({
        snaplinkCleanupRequired: false,
        metadataThreads: 10,
        staticMetadataThreads: false,
      }),
      cancelWaitMs: 100,
      tokens: () => ({ api: config.api_token, read: config.api_token_read }),
    });
    url = await service.app.listen({ host: '127.0.0.1', port: 0 });
    port = Number(new URL(url).port);
  });
  after(async () => {
    await service.close();
    await tdb.drop();
  });

  async function call(
    method: string,
    path: string,
    token?: string,
    body?: unknown,
  ): Promise<Answer> {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return {
      status: res.status,
      body: await res.text(),
      challenge: res.headers.get('www-authenticate'),
    };
  }
  const evacuate = (n: number) => ({ action: 'evacuate', params: { from_shark: `${n}.stor` } });

  /** A 401 in the API's shape, naming the token needed and never repeating one. */
  function assertRefused(answer: Answer, needs: RegExp): void {
    assert.equal(answer.status, 401, answer.body);
    assert.equal(answer.challenge, 'Bearer realm="rebalancer-manager"');
    const body = JSON.parse(answer.body) as { code: unknown; message: unknown };
    assert.equal(body.code, 'Unauthorized');
    assert.equal(typeof body.message, 'string');
    assert.match(String(body.message), needs);
    for (const secret of [API, READ, 'wrong-token']) assert.ok(!answer.body.includes(secret));
  }

  test('without tokens every route is open', async () => {
    assert.equal((await call('POST', '/jobs', undefined, evacuate(1))).status, 200);
    assert.equal((await call('GET', '/jobs')).status, 200);
    assert.equal((await call('PUT', `/jobs/${randomUUID()}`, undefined, {})).status, 400);
    assert.equal((await call('GET', '/metrics')).status, 200);
  });

  test('api_token: mutating requests need it, reads stay open', async () => {
    reload({ api_token: API });
    assertRefused(
      await call('POST', '/jobs', undefined, evacuate(2)),
      /no bearer token.*api_token/,
    );
    assertRefused(await call('POST', '/jobs', 'wrong-token', evacuate(2)), /a wrong bearer token/);
    assertRefused(await call('PUT', `/jobs/${randomUUID()}`, 'wrong-token', {}), /api_token/);
    assertRefused(await call('POST', `/jobs/${randomUUID()}/cancel`), /api_token/);
    // An unknown path is refused too: without the token, nothing says which routes exist.
    assertRefused(await call('DELETE', '/no-such-route'), /api_token/);
    const created = await call('POST', '/jobs', API, evacuate(2));
    assert.equal(created.status, 200, created.body);
    // Through the guard, to the route's own answer.
    const update = { action: 'set_metadata_threads', params: 2 };
    assert.equal((await call('PUT', `/jobs/${randomUUID()}`, API, update)).status, 404);
    const lower = await fetch(`${url}/jobs/${randomUUID()}/pause`, {
      method: 'POST',
      headers: { authorization: `bearer ${API}` },
    });
    assert.equal(lower.status, 404, 'the scheme is case-insensitive');
    assert.equal((await call('GET', '/jobs')).status, 200);
    assert.equal((await call('GET', `/jobs/${created.body.trim()}`)).status, 200);
    assert.equal((await call('HEAD', '/jobs')).status, 200);
    assert.equal((await call('GET', '/metrics')).status, 200);
  });

  test('api_token_read: reads need it or api_token; it does not allow changes', async () => {
    reload({ api_token: API, api_token_read: READ });
    assertRefused(await call('GET', '/jobs'), /no bearer token.*api_token_read \(or api_token\)/);
    assertRefused(await call('GET', '/jobs', 'wrong-token'), /a wrong bearer token/);
    const head = await call('HEAD', '/jobs');
    assert.deepEqual([head.status, head.challenge], [401, 'Bearer realm="rebalancer-manager"']);
    assertRefused(await call('GET', '/metrics'), /api_token_read/);
    assert.equal((await call('GET', '/jobs', READ)).status, 200);
    assert.equal((await call('GET', '/jobs', API)).status, 200);
    assert.equal((await call('GET', '/metrics', READ)).status, 200);
    assert.equal((await call('GET', `/jobs/${randomUUID()}`, API)).status, 404);
    assertRefused(await call('POST', '/jobs', READ, evacuate(3)), /needs the manager's api_token/);
    assert.equal((await call('POST', '/jobs', API, evacuate(3))).status, 200);
  });

  test('the console under /ui and GET / are never guarded; a lookalike path is', async () => {
    reload({ api_token: API, api_token_read: READ });
    for (const path of ['/', '/ui', '/ui/', '/ui/index.html', '/ui/app.js?v=1']) {
      const answer = await call('GET', path);
      assert.notEqual(answer.status, 401, `${path}: ${answer.body}`);
    }
    assert.notEqual((await call('POST', '/ui/x')).status, 401);
    assertRefused(await call('GET', '/uix'), /api_token_read/);
    assertRefused(await call('POST', '/'), /api_token/);
    // A path that climbs out of /ui is not routed to the API's data.
    const climb = await rawRequest(
      port,
      'GET /ui/../jobs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    assert.notEqual(climb.status, 200, climb.body);
    assert.ok(!climb.body.startsWith('['), climb.body);
  });

  test('a token changed by a reload applies to the next request', async () => {
    reload({ api_token: API });
    assert.equal((await call('POST', '/jobs', API, evacuate(4))).status, 200);
    const rotated = 'the-rotated-api-token-1';
    reload({ api_token: rotated });
    assertRefused(await call('POST', '/jobs', API, evacuate(5)), /a wrong bearer token/);
    assert.equal((await call('POST', '/jobs', rotated, evacuate(5))).status, 200);
    reload({});
    assert.equal((await call('POST', '/jobs', undefined, evacuate(6))).status, 200);
  });
});
