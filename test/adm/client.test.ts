import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Compile } from 'typebox/compile';
import { AdmRequestError, AdmResponseError, ManagerClient } from '../../src/adm/client.ts';
import { type RouteDecl, routePath } from '../../src/api/http-routes.ts';
import { managerRoutes } from '../../src/api/manager-routes.ts';
import { startBrokenHttpServer } from '../support/broken-http.ts';

const ID = '6f1c2b1e-1d2c-4e5f-8a9b-0c1d2e3f4a5b';
const STATUS = {
  config: { action: 'Evacuate', from_shark: { manta_storage_id: '1.stor', datacenter: 'dc1' } },
  results: {
    Unprocessed: 0,
    Assigned: 0,
    Skipped: 0,
    Error: 0,
    'Post Processing': 0,
    Complete: 3,
    Duplicates: 0,
    Total: 3,
  },
  state: 'Complete',
};

const failure = (code: string, status?: number) => (err: unknown) =>
  err instanceof AdmRequestError && err.code === code && err.status === status;

describe('ManagerClient: the connection drops mid-response', () => {
  async function against(
    response: Parameters<typeof startBrokenHttpServer>[0],
    run: (client: ManagerClient) => Promise<void>,
  ): Promise<void> {
    const server = await startBrokenHttpServer(response);
    try {
      await run(new ManagerClient(server.url, 5000));
    } finally {
      await server.close();
    }
  }

  test('a status cut off mid-body is an AdmRequestError (transport)', async () => {
    await against(
      { status: '200 OK', partialBody: JSON.stringify(STATUS).slice(0, 40) },
      async (c) => {
        await assert.rejects(c.get(ID), failure('transport'));
        await assert.rejects(c.list(), failure('transport'));
        await assert.rejects(c.createEvacuate('1.stor', undefined), failure('transport'));
      },
    );
  });

  test('an error answer cut off mid-body is an AdmRequestError (transport)', async () => {
    await against({ status: '404 Not Found', partialBody: '{"code":"NotF' }, (c) =>
      assert.rejects(c.cancel(ID), failure('transport')),
    );
  });

  test('cut off inside the headers is an AdmRequestError (transport)', async () => {
    await against({ cutInHeaders: true }, (c) => assert.rejects(c.retry(ID), failure('transport')));
  });
});

describe('ManagerClient: answers are validated against the API schemas', () => {
  let server: Server;
  let client: ManagerClient;
  const answers = new Map<string, { status: number; body: string }>();

  before(async () => {
    server = createServer((req, res) => {
      const a = answers.get(`${req.method} ${req.url}`) ?? { status: 404, body: '' };
      req.resume();
      res.writeHead(a.status).end(a.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    client = new ManagerClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  });
  after(() => new Promise((resolve) => server.close(resolve)));

  test('well-formed answers are returned', async () => {
    answers.set(`GET /jobs/${ID}`, { status: 200, body: JSON.stringify(STATUS) });
    answers.set('GET /jobs', {
      status: 200,
      body: JSON.stringify([{ id: ID, action: 'Evacuate', state: 'Running' }]),
    });
    answers.set('POST /jobs', { status: 200, body: `${ID}\n` });
    assert.deepEqual(await client.get(ID), STATUS);
    assert.deepEqual(await client.list(), [{ id: ID, action: 'Evacuate', state: 'Running' }]);
    assert.equal(await client.createEvacuate('1.stor', { maxObjects: 5 }), ID);
  });

  test('not JSON, or JSON of the wrong shape, is an AdmRequestError (body)', async () => {
    answers.set(`GET /jobs/${ID}`, { status: 200, body: '<html>' });
    await assert.rejects(client.get(ID), failure('body', 200));
    answers.set(`GET /jobs/${ID}`, {
      status: 200,
      body: JSON.stringify({ ...STATUS, results: {} }),
    });
    await assert.rejects(client.get(ID), failure('body', 200));
    answers.set('GET /jobs', { status: 200, body: JSON.stringify([{ id: ID, state: 'Bogus' }]) });
    await assert.rejects(client.list(), failure('body', 200));
    answers.set(`POST /jobs/${ID}/retry`, { status: 200, body: 'not a uuid\n' });
    await assert.rejects(client.retry(ID), failure('body', 200));
  });

  test('an error status carries the JSON message, or the plain text', async () => {
    answers.set(`POST /jobs/${ID}/cancel`, {
      status: 409,
      body: JSON.stringify({ code: 'Conflict', message: 'job is already final' }),
    });
    await assert.rejects(
      client.cancel(ID),
      (err: unknown) =>
        failure('status', 409)(err) &&
        (err as Error).message === 'Server response: 409: job is already final',
    );
    answers.set(`POST /jobs/${ID}/cancel`, { status: 500, body: 'plain failure' });
    await assert.rejects(
      client.cancel(ID),
      (err: unknown) =>
        failure('status', 500)(err) &&
        (err as Error).message === 'Server response: 500: plain failure',
    );
  });
});

describe('ManagerClient: every method checks its answer against the route table', () => {
  let server: Server;
  let client: ManagerClient;
  const seen: string[] = [];
  let answer = '';

  before(async () => {
    server = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end(answer);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    client = new ManagerClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  });
  after(() => new Promise((resolve) => server.close(resolve)));

  const BAD_TASK_LIST = JSON.stringify([{ id: ID, action: 'Evacuate', state: 'Bogus' }]);
  // Each method, its route, a 200 body of the wrong shape and where it first goes wrong.
  const cases: {
    run: (c: ManagerClient) => Promise<unknown>;
    route: RouteDecl;
    body: string;
    path: string;
  }[] = [
    { run: (c) => c.list(), route: managerRoutes.listJobs, body: BAD_TASK_LIST, path: '/0/state' },
    {
      run: (c) => c.get(ID),
      route: managerRoutes.getJob,
      body: JSON.stringify({ ...STATUS, state: 'Sleeping' }),
      path: '/state',
    },
    {
      run: (c) => c.cancel(ID),
      route: managerRoutes.cancelJob,
      body: JSON.stringify({ ...STATUS, results: { ...STATUS.results, Total: -1 } }),
      path: '/results/Total',
    },
    {
      run: (c) => c.createEvacuate('1.stor', undefined),
      route: managerRoutes.createJob,
      body: `${ID}`,
      path: '',
    },
    { run: (c) => c.retry(ID), route: managerRoutes.retryJob, body: 'Error 16\n', path: '' },
    {
      run: (c) => c.duplicates(ID),
      route: managerRoutes.listJobDuplicates,
      body: JSON.stringify({
        duplicates: [{ object_id: 'o', key: '/k', shard: 'one', status: 'complete' }],
      }),
      path: '/duplicates/0/shard',
    },
    {
      run: (c) => c.setMetadataThreads(ID, 3),
      route: managerRoutes.updateJob,
      body: '{"ok":true}',
      path: '',
    },
    {
      run: (c) => c.objects(ID, {}),
      route: managerRoutes.listJobObjects,
      body: JSON.stringify({ objects: [], next: 7 }),
      path: '/next',
    },
    {
      run: (c) => c.deleteJob(ID),
      route: managerRoutes.deleteJob,
      body: JSON.stringify({ deleted: ID, objects: -1 }),
      path: '/objects',
    },
  ];

  for (const { run, route, body, path } of cases) {
    test(`${route.operationId}: a 200 of the wrong shape is an AdmResponseError naming the route`, async () => {
      answer = body;
      seen.length = 0;
      const decoded = route.successEncoding === 'text' ? body : JSON.parse(body);
      const [first] = Compile(route.response[200]!).Errors(decoded);
      await assert.rejects(run(client), (err: unknown) => {
        assert.ok(err instanceof AdmResponseError, String(err));
        assert.ok(err instanceof AdmRequestError);
        assert.equal(err.code, 'body');
        assert.equal(err.status, 200);
        assert.equal(err.route, route.operationId);
        assert.deepEqual(err.mismatch, { path, message: first?.message });
        assert.ok(err.message.includes(route.operationId), err.message);
        return true;
      });
      // The request went to the route's declared method and path.
      assert.deepEqual(seen, [`${route.method} ${routePath(route, { uuid: ID })}`]);
    });
  }

  test('the well-formed answers of the same routes are returned', async () => {
    answer = 'null';
    await client.setMetadataThreads(ID, 3);
    answer = ''; // L answers PUT with an empty 200
    await client.setMetadataThreads(ID, 3);
    answer = `${ID}\n`;
    assert.equal(await client.retry(ID), ID);
    answer = JSON.stringify({
      duplicates: [{ object_id: 'o', key: '/k', shard: 1, status: 'complete' }],
    });
    assert.equal((await client.duplicates(ID)).length, 1);
  });
});
