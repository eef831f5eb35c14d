import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Compile } from 'typebox/compile';
import { agentRoutes } from '../../src/api/agent-routes.ts';
import { type RouteDecl, routePath } from '../../src/api/http-routes.ts';
import {
  AgentResponseError,
  HttpAgentClient,
} from '../../src/manager/jobs/evacuate/agent-client.ts';
import { AgentTransportError } from '../../src/manager/jobs/evacuate/types.ts';
import { startBrokenHttpServer } from '../support/broken-http.ts';

const dest = { manta_storage_id: '3.stor.test', datacenter: 'dc1' };
const ID = '6f1c2b1e-1d2c-4e5f-8a9b-0c1d2e3f4a5b';

describe('HttpAgentClient', () => {
  let server: Server;
  let base: string;
  let client: HttpAgentClient;
  const posted: unknown[] = [];
  let postStatus = 503;

  before(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        if (req.method === 'POST' && req.url === '/assignments') {
          posted.push(JSON.parse(body));
          res.writeHead(postStatus).end(postStatus === 200 ? JSON.stringify(ID) : '');
          postStatus = 200;
        } else if (req.url === `/assignments/${ID}`) {
          res.writeHead(200, { 'content-type': 'application/json' }).end(
            JSON.stringify({
              uuid: ID,
              stats: {
                state: {
                  Complete: [
                    {
                      object_id: 'o1',
                      owner: 'acct',
                      md5sum: 'x',
                      source: dest,
                      status: { Failed: { HTTPStatusCode: 404 } },
                    },
                  ],
                },
                failed: 1,
                complete: 2,
                total: 2,
              },
            }),
          );
        } else if (req.url === '/assignments/garbage') {
          res.writeHead(200).end('{"stats":{"state":"Sleeping"}}');
        } else if (req.url === '/assignments/not-json') {
          res.writeHead(200).end('{"uuid": "x", "stats": ');
        } else if (req.url === '/assignments/bad-task') {
          // A failed task without its object_id: the wrong shape, deep inside.
          res.writeHead(200).end(
            JSON.stringify({
              uuid: ID,
              stats: {
                state: { Complete: [{ status: 'Pending' }] },
                failed: 1,
                complete: 1,
                total: 1,
              },
            }),
          );
        } else if (req.url === '/assignments/shutting-down') {
          res.writeHead(503).end('{"code":"ShuttingDown","message":"agent is shutting down"}');
        } else {
          res.writeHead(404).end();
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    client = new HttpAgentClient({ urlFor: () => base });
  });
  after(async () => {
    await client.close();
    await new Promise((resolve) => server.close(resolve));
  });

  test('POST: 503 is busy, 200 accepted, body in L form', async () => {
    const payload = { id: ID, tasks: [] };
    const signal = new AbortController().signal;
    assert.deepEqual(await client.post(dest, payload, signal), { kind: 'busy' });
    assert.deepEqual(await client.post(dest, payload, signal), { kind: 'accepted' });
    assert.deepEqual(posted[1], { id: ID, tasks: [] });
  });

  test('GET: a complete state with failed tasks, 404 missing, garbage is a transport failure', async () => {
    const signal = new AbortController().signal;
    const got = await client.get(dest, ID, signal);
    assert.equal(got.kind, 'state');
    const state = got.kind === 'state' ? got.state : undefined;
    assert.ok(typeof state === 'object' && state !== null);
    assert.deepEqual(state.Complete?.[0]?.status, { Failed: { HTTPStatusCode: 404 } });
    assert.deepEqual(await client.get(dest, 'unknown', signal), { kind: 'missing', status: 404 });
    await assert.rejects(client.get(dest, 'garbage', signal), AgentTransportError);
  });

  test('GET: not JSON, or JSON of the wrong shape, is a transport failure (polled again)', async () => {
    const signal = new AbortController().signal;
    await assert.rejects(client.get(dest, 'not-json', signal), AgentTransportError);
    await assert.rejects(client.get(dest, 'bad-task', signal), AgentTransportError);
  });

  test('GET: a 5xx is a transport failure, not "the agent does not know the assignment"', async () => {
    await assert.rejects(
      client.get(dest, 'shutting-down', new AbortController().signal),
      (err: unknown) => err instanceof AgentTransportError && /HTTP 503/.test(err.message),
    );
  });

  test('no agent listening is a transport error', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const c = new HttpAgentClient({ urlFor: () => `http://127.0.0.1:${port}` });
    try {
      await assert.rejects(
        c.post(dest, { id: ID, tasks: [] }, new AbortController().signal),
        AgentTransportError,
      );
    } finally {
      await c.close();
    }
  });
});

describe('HttpAgentClient: the connection drops mid-response', () => {
  const payload = { id: ID, tasks: [] };

  async function against<T>(
    response: Parameters<typeof startBrokenHttpServer>[0],
    run: (client: HttpAgentClient) => Promise<T>,
  ): Promise<{ requests: string[] }> {
    const server = await startBrokenHttpServer(response);
    const client = new HttpAgentClient({ urlFor: () => server.url, timeoutMs: 5000 });
    try {
      await run(client);
      return { requests: server.requests };
    } finally {
      await client.close();
      await server.close();
    }
  }

  const isTransport = (err: unknown): boolean => err instanceof AgentTransportError;

  test('POST: headers arrived, the body was cut off → AgentTransportError', async () => {
    const { requests } = await against({ status: '200 OK', partialBody: '"6f1c2b1e' }, (c) =>
      assert.rejects(c.post(dest, payload, new AbortController().signal), isTransport),
    );
    assert.deepEqual(requests, ['POST /assignments HTTP/1.1']);
  });

  test('POST: an error status whose body was cut off → AgentTransportError, not rejected', async () => {
    await against({ status: '500 Internal Server Error', partialBody: '{"code":' }, (c) =>
      assert.rejects(c.post(dest, payload, new AbortController().signal), isTransport),
    );
  });

  test('POST and GET: cut off inside the headers → AgentTransportError', async () => {
    await against({ cutInHeaders: true }, async (c) => {
      await assert.rejects(c.post(dest, payload, new AbortController().signal), isTransport);
      await assert.rejects(c.get(dest, ID, new AbortController().signal), isTransport);
    });
  });

  test('GET: a state body cut off → AgentTransportError', async () => {
    await against(
      { status: '200 OK', partialBody: `{"uuid":"${ID}","stats":{"state":{"Complete":[` },
      (c) => assert.rejects(c.get(dest, ID, new AbortController().signal), isTransport),
    );
  });
});

describe('HttpAgentClient: answers are checked against the route table', () => {
  let server: Server;
  let client: HttpAgentClient;
  const seen: string[] = [];
  let answer = { status: 200, body: '' };

  before(async () => {
    server = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      req.resume();
      req.on('end', () =>
        res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    client = new HttpAgentClient({ urlFor: () => base });
  });
  after(async () => {
    await client.close();
    await new Promise((resolve) => server.close(resolve));
  });

  const signal = new AbortController().signal;
  const payload = { id: ID, tasks: [] };
  const cases: {
    what: string;
    run: () => Promise<unknown>;
    route: RouteDecl;
    body: unknown;
    path: string;
  }[] = [
    {
      what: 'POST answered with an object',
      run: () => client.post(dest, payload, signal),
      route: agentRoutes.createAssignment,
      body: { id: ID },
      path: '',
    },
    {
      what: 'POST answered with a string that is no assignment id',
      run: () => client.post(dest, payload, signal),
      route: agentRoutes.createAssignment,
      body: 'accepted',
      path: '',
    },
    {
      what: 'GET answered with a negative count',
      run: () => client.get(dest, ID, signal),
      route: agentRoutes.getAssignment,
      body: { uuid: ID, stats: { state: 'Running', failed: -1, complete: 0, total: 1 } },
      path: '/stats/failed',
    },
  ];

  for (const { what, run, route, body, path } of cases) {
    test(`${what}: AgentResponseError (a transport failure) naming the route and the mismatch`, async () => {
      answer = { status: 200, body: JSON.stringify(body) };
      seen.length = 0;
      const [first] = Compile(route.response[200]!).Errors(body);
      await assert.rejects(run(), (err: unknown) => {
        assert.ok(err instanceof AgentResponseError, String(err));
        // Polled (or posted) again, as any unusable answer is.
        assert.ok(err instanceof AgentTransportError);
        assert.equal(err.route, route.operationId);
        assert.equal(err.status, 200);
        assert.deepEqual(err.mismatch, { path, message: first?.message });
        assert.ok(err.message.includes(route.operationId), err.message);
        return true;
      });
      assert.deepEqual(seen, [`${route.method} ${routePath(route, { uuid: ID })}`]);
    });
  }

  test('error answers are told apart by status alone (L: empty or plain-text bodies)', async () => {
    answer = { status: 409, body: '' };
    assert.deepEqual(await client.post(dest, payload, signal), {
      kind: 'rejected',
      status: 409,
      message: '',
    });
    answer = { status: 400, body: 'Failed to deserialize payload: missing field `id`' };
    const rejected = await client.post(dest, payload, signal);
    assert.equal(rejected.kind, 'rejected');
    answer = { status: 503, body: '{"not":"an error body"}' };
    assert.deepEqual(await client.post(dest, payload, signal), { kind: 'busy' });
    answer = { status: 404, body: 'no such assignment' };
    assert.deepEqual(await client.get(dest, ID, signal), { kind: 'missing', status: 404 });
    answer = { status: 200, body: JSON.stringify(ID) };
    assert.deepEqual(await client.post(dest, payload, signal), { kind: 'accepted' });
  });
});
