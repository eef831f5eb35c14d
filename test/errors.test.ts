/**
 * Errors with codes (issue 13): every error class of src/ extends RebalancerError with a
 * non-empty code that no other class uses; each server has one `code -> status` table that
 * covers its API's codes, and real servers answer each code they can be made to with that
 * status and a `{code, message}` body; 500s read the same on both services.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type RunningAgent, startAgent } from '../src/agent/agent.ts';
import type { TaskProcessor } from '../src/agent/processor.ts';
import { AGENT_ERROR_STATUS } from '../src/agent/server.ts';
import { AgentErrorCode } from '../src/api/agent.ts';
import { ManagerErrorCode } from '../src/api/manager.ts';
import { OrphanRefusalCode } from '../src/api/orphans.ts';
import { ProtocolErrorCode } from '../src/api/protocol-errors.ts';
import { RebalancerError } from '../src/errors.ts';
import { createLogger } from '../src/log/index.ts';
import { MANAGER_ERROR_STATUS } from '../src/manager/http/server.ts';
import { type ManagerService, startManagerService } from '../src/manager/service.ts';
import { MorayStorageSharkDirectory, StaticSharkDirectory } from '../src/manager/sharks.ts';
import { MorayClient } from '../src/moray/index.ts';
import { postAssignment, silentLog, type TempDirs, tempDirs, testConfig } from './agent/helpers.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { rawRequest } from './support/raw-http.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(join(ROOT, dir)).sort()) {
    const path = `${dir}/${entry}`;
    if (statSync(join(ROOT, path)).isDirectory()) sourceFiles(path, out);
    else if (entry.endsWith('.ts') && !entry.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

type ErrorClass = new (...args: never[]) => Error;

/** Constructor arguments for classes that cannot be built without any; several for classes
 * whose code depends on them (one list per code). */
const moray = { method: 'getObject', shard: 'localhost:2020', message: 'm' };
const mdapi = { method: 'getobject', shard: '1.buckets-mdapi.test' };

const FIXTURES: Readonly<Record<string, readonly unknown[][]>> = {
  DatabaseError: [
    ['m', {}],
    ['m', { code: '23505' }],
  ],
  DiscoveryShardError: [[1, '_id', { from: '1', to: '2' }, 3, new Error('x')]],
  FastServerError: [['getObject', { name: 'FastServerError', message: 'm' }]],
  RpcError: [['RpcError', 'm']],
  MorayError: [[{ ...moray, name: 'MorayError' }]],
  EtagConflictError: [[{ ...moray, name: 'EtagConflictError' }]],
  ObjectNotFoundError: [[{ ...moray, name: 'ObjectNotFoundError' }]],
  BucketNotFoundError: [[{ ...moray, name: 'BucketNotFoundError' }]],
  MorayConnectionError: [[{ ...moray, name: 'MorayConnectionError' }]],
  MorayTimeoutError: [[{ ...moray, name: 'MorayTimeoutError' }]],
  MorayProtocolError: [[{ ...moray, field: 'value' }]],
  InvalidFaultsError: [[[{ path: '/x', message: 'm' }]]],
  InvalidStorinfoInputError: [['x', [{ path: '/x', message: 'm' }]]],
  HttpGetError: [
    'connect_timeout',
    'idle_timeout',
    'aborted',
    'connection_failed',
    'truncated',
  ].map((code) => ['m', code]),
  JsonBodyError: [
    ['BadRequest', 'm'],
    ['PayloadTooLarge', 'm'],
  ],
  AdmRequestError: [['m'], ['m', 500], ['m', 200, 'body']],
  MdapiError: [['m', mdapi]],
  MdapiServerError: [['PostgresError', 'm', mdapi]],
  MdapiEtagMismatchError: [['PreconditionFailedError', 'm', mdapi]],
  MdapiObjectNotFoundError: [['ObjectNotFound', 'm', mdapi]],
  MdapiOverloadedError: [['OverloadedError', 'm', mdapi]],
  MdapiUnsupportedError: [['m', mdapi]],
  MdapiTransientError: [['m', mdapi]],
  MdapiProtocolError: [['m', 'field', mdapi]],
};

/** `name` is not the class name: the peer's error name, or (AgentResponseError) its base's. */
const OTHER_NAMES = new Set(['FastServerError', 'RpcError', 'AgentResponseError']);

async function exportedErrorClasses(): Promise<Map<ErrorClass, string>> {
  const found = new Map<ErrorClass, string>();
  for (const path of sourceFiles('src')) {
    if (path.endsWith('/main.ts')) continue; // entry points run when imported
    const mod = (await import(pathToFileURL(join(ROOT, path)).href)) as Record<string, unknown>;
    for (const [name, value] of Object.entries(mod)) {
      if (typeof value !== 'function' || !(value.prototype instanceof Error)) continue;
      if (value === RebalancerError) continue;
      if (!found.has(value as ErrorClass)) found.set(value as ErrorClass, `${path} ${name}`);
    }
  }
  return found;
}

describe('error classes', () => {
  test('no class in src/ extends Error directly but the base', () => {
    const direct = sourceFiles('src').flatMap((path) =>
      readFileSync(join(ROOT, path), 'utf8')
        .split('\n')
        .flatMap((line, i) => (/\bextends Error\b/.test(line) ? [`${path}:${i + 1}`] : [])),
    );
    assert.deepEqual(direct, ['src/errors.ts:11']);
  });

  test('every exported error class extends RebalancerError with its own non-empty code', async () => {
    const classes = await exportedErrorClasses();
    assert.ok(classes.size > 60, `only ${classes.size} error classes found`);
    const owner = new Map<string, { cls: ErrorClass; where: string }>();
    for (const [cls, where] of classes) {
      assert.ok(
        cls.prototype instanceof RebalancerError,
        `${where} does not extend RebalancerError`,
      );
      const argLists = FIXTURES[cls.name] ?? [[]];
      for (const args of argLists) {
        const err = Reflect.construct(cls, args) as RebalancerError;
        assert.equal(typeof err.code, 'string', `${where}: code`);
        assert.ok(err.code.length > 0, `${where}: empty code`);
        if (!OTHER_NAMES.has(cls.name)) assert.equal(err.name, cls.name, `${where}: name`);
        const prior = owner.get(err.code);
        // A subclass may keep its base's code (it is one); unrelated classes may not share.
        const related =
          prior !== undefined &&
          (prior.cls === cls ||
            prior.cls.prototype instanceof cls ||
            cls.prototype instanceof prior.cls);
        assert.ok(
          prior === undefined || related,
          `code ${err.code} of ${where} is also the code of ${prior?.where}`,
        );
        if (prior === undefined) owner.set(err.code, { cls, where });
      }
    }
  });

  test('the base keeps the cause and names the subclass', () => {
    class ProbeError extends RebalancerError {
      readonly code = 'probe';
    }
    const cause = new Error('root');
    const err = new ProbeError('outer', { cause });
    assert.equal(err.cause, cause);
    assert.equal(err.name, 'ProbeError');
    assert.equal(err.message, 'outer');
    assert.ok(err instanceof Error);
  });
});

const PROTOCOL_CODES = Object.values(ProtocolErrorCode) as string[];

function checkTable(table: Record<string, number>, apiCodes: readonly string[]): void {
  const codes = Object.keys(table);
  assert.deepEqual(new Set(codes).size, codes.length);
  for (const [code, status] of Object.entries(table)) {
    assert.ok(Number.isInteger(status) && status >= 400 && status <= 599, `${code}: ${status}`);
  }
  // Every code the API declares is answered with one status, and nothing else is.
  assert.deepEqual(
    [...new Set([...apiCodes, ...PROTOCOL_CODES])].sort(),
    [...codes].sort(),
    'the table and the API codes differ',
  );
}

describe('HTTP code -> status tables', () => {
  test('manager: every ManagerErrorCode and protocol code, once', () =>
    checkTable(MANAGER_ERROR_STATUS, [
      ...Object.values(ManagerErrorCode),
      ...Object.values(OrphanRefusalCode),
    ]));
  test('agent: every AgentErrorCode and protocol code, once', () =>
    checkTable(AGENT_ERROR_STATUS, Object.values(AgentErrorCode)));
  test('a code both services answer has the same status on both', () => {
    const agent: Record<string, number> = AGENT_ERROR_STATUS;
    for (const [code, status] of Object.entries(MANAGER_ERROR_STATUS)) {
      if (code in agent) assert.equal(agent[code], status, code);
    }
  });
});

interface Answer {
  status: number;
  body: string;
}

async function http(base: string, method: string, path: string, body?: string): Promise<Answer> {
  const res = await fetch(`${base}${path}`, { method, ...(body === undefined ? {} : { body }) });
  return { status: res.status, body: await res.text() };
}

/** The answer has the table's status and a `{code, message}` body with this code. */
function assertAnswer(table: Record<string, number>, code: string, answer: Answer): void {
  const body = JSON.parse(answer.body) as Record<string, unknown>;
  assert.equal(body.code, code, answer.body);
  assert.equal(answer.status, table[code], `${code}: ${answer.body}`);
  assert.equal(typeof body.message, 'string', answer.body);
}

async function rawAnswer(port: number, bytes: string): Promise<Answer> {
  const res = await rawRequest(port, bytes);
  return { status: res.status, body: res.body };
}

const RAW = {
  [ProtocolErrorCode.ExpectationFailed]: 'GET / HTTP/1.1\r\nHost: x\r\nExpect: foo\r\n\r\n',
  [ProtocolErrorCode.MethodNotAllowed]: 'CONNECT example.com:443 HTTP/1.1\r\nHost: x\r\n\r\n',
  [ProtocolErrorCode.HeadersTooLarge]: `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
};

/** A TCP port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('manager answers every code it can be made to with its status', () => {
  let tdb: TestDatabase;
  let service: ManagerService;
  let base: string;
  let port: number;
  let snaplink = false;
  let moray: MorayClient;
  /** Shark lookups go to shard 1's Moray, which is down. */
  let morayDown = false;
  /** The manager's api_token (issue 17): mutating requests without it are a 401. */
  let apiToken: string | undefined;

  before(async () => {
    tdb = await createTestDatabase();
    const log = createLogger({ name: 'errors-test', level: 'silent' });
    const known = new StaticSharkDirectory(
      [{ manta_storage_id: '1.stor.example.com', datacenter: 'dc1' }],
      'example.com',
    );
    moray = new MorayClient({
      host: '127.0.0.1',
      port: await closedPort(),
      connectTimeoutMs: 200,
      healthCheckIntervalMs: 0,
      log,
    });
    const unreachable = new MorayStorageSharkDirectory(moray, 'example.com', { timeoutMs: 500 });
    service = await startManagerService({
      db: tdb.db,
      log,
      // Jobs run until stopped: a second job on the same shark is a conflict.
      executor: (ctx) =>
        new Promise<void>((_, reject) =>
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true }),
        ),
      sharks: {
        resolve: (name, signal) => (morayDown ? unreachable : known).resolve(name, signal),
      },
      settings: () => ({
        snaplinkCleanupRequired: snaplink,
        metadataThreads: 10,
        staticMetadataThreads: false,
      }),
      cancelWaitMs: 100,
      tokens: () => ({ api: apiToken, read: undefined }),
    });
    base = await service.app.listen({ host: '127.0.0.1', port: 0 });
    port = Number(new URL(base).port);
  });
  after(async () => {
    await service.close();
    await moray.close();
    await tdb.drop();
  });

  const evacuate = (shark: string) =>
    JSON.stringify({ action: 'evacuate', params: { from_shark: shark } });

  test('4xx and 503', async () => {
    const t = MANAGER_ERROR_STATUS;
    assertAnswer(t, ManagerErrorCode.BadRequest, await http(base, 'GET', '/jobs/not-a-uuid'));
    assertAnswer(t, ManagerErrorCode.NotFound, await http(base, 'GET', `/jobs/${randomUUID()}`));
    const big = JSON.stringify({ action: 'evacuate', params: { from_shark: 'x'.repeat(70_000) } });
    assertAnswer(t, ManagerErrorCode.PayloadTooLarge, await http(base, 'POST', '/jobs', big));
    assert.equal((await http(base, 'POST', '/jobs', evacuate('1.stor'))).status, 200);
    assertAnswer(
      t,
      ManagerErrorCode.Conflict,
      await http(base, 'POST', '/jobs', evacuate('1.stor')),
    );
    apiToken = 'a-token-for-the-error-tests';
    try {
      const refused = await http(base, 'POST', '/jobs', evacuate('2.stor'));
      assertAnswer(t, ManagerErrorCode.Unauthorized, refused);
    } finally {
      apiToken = undefined;
    }
    morayDown = true;
    try {
      const down = await http(base, 'POST', '/jobs', evacuate('2.stor'));
      assertAnswer(t, ManagerErrorCode.Unavailable, down);
    } finally {
      morayDown = false;
    }
    for (const [code, bytes] of Object.entries(RAW)) {
      assertAnswer(t, code, await rawAnswer(port, bytes));
    }
  });

  test('500s: snaplink cleanup, and an unexpected error as "internal error: <message>"', async () => {
    const t = MANAGER_ERROR_STATUS;
    snaplink = true;
    try {
      const refused = await http(base, 'POST', '/jobs', evacuate('1.stor'));
      assertAnswer(t, ManagerErrorCode.SnaplinkCleanupRequired, refused);
    } finally {
      snaplink = false;
    }
    await tdb.db.query('ALTER TABLE jobs RENAME TO jobs_gone');
    try {
      const broken = await http(base, 'GET', '/jobs');
      assertAnswer(t, ManagerErrorCode.Internal, broken);
      assert.match(JSON.parse(broken.body).message, /^internal error: .*jobs/);
    } finally {
      await tdb.db.query('ALTER TABLE jobs_gone RENAME TO jobs');
    }
  });
});

describe('agent answers every code it can be made to with its status', () => {
  const token = 'a-token-for-the-error-tests';
  let dirs: TempDirs;
  let agent: RunningAgent;
  let held: (() => void)[] = [];

  before(async () => {
    dirs = await tempDirs();
    // Holds every task: assignments stay scheduled, the queue fills.
    const processor: TaskProcessor = () =>
      new Promise((resolve) =>
        held.push(() => resolve({ status: 'Complete', outcome: 'complete', bytes: 0 })),
      );
    agent = await startAgent(
      testConfig(dirs, {
        domainName: 'us-west.joyent.us',
        authToken: token,
        maxQueued: 1,
        bodyLimitBytes: 4096,
      }),
      { log: silentLog, processor },
    );
  });
  after(async () => {
    for (const release of held) release();
    held = [];
    await agent.close();
    await dirs.cleanup();
  });

  const call = async (method: string, path: string, body?: string, auth = true) => {
    const headers: Record<string, string> = auth ? { authorization: `Bearer ${token}` } : {};
    const res = await fetch(`${agent.url}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body }),
    });
    return { status: res.status, body: await res.text() };
  };
  const assignment = (id: string) =>
    JSON.stringify({
      id,
      tasks: [
        {
          object_id: randomUUID(),
          owner: randomUUID(),
          md5sum: '1B2M2Y8AsgTpgAmY7PhCfg==',
          source: { datacenter: 'dc1', manta_storage_id: '3.stor.us-west.joyent.us' },
          status: 'Pending',
        },
      ],
    });

  test('4xx and 503', async () => {
    const t = AGENT_ERROR_STATUS;
    assertAnswer(
      t,
      AgentErrorCode.Unauthorized,
      await call('GET', '/assignments', undefined, false),
    );
    assertAnswer(t, AgentErrorCode.BadRequest, await call('GET', '/assignments/not-a-uuid'));
    assertAnswer(t, AgentErrorCode.NotFound, await call('GET', `/assignments/${randomUUID()}`));
    assertAnswer(t, AgentErrorCode.MethodNotAllowed, await call('PUT', '/assignments'));
    const big = JSON.stringify({ id: randomUUID(), tasks: [], pad: 'x'.repeat(5000) });
    assertAnswer(t, AgentErrorCode.PayloadTooLarge, await call('POST', '/assignments', big));
    const id = randomUUID();
    assert.equal((await postAssignment(agent.url, JSON.parse(assignment(id)), token)).status, 200);
    assertAnswer(t, AgentErrorCode.Conflict, await call('POST', '/assignments', assignment(id)));
    assertAnswer(t, AgentErrorCode.Forbidden, await call('DELETE', `/assignments/${id}`));
    const full = await call('POST', '/assignments', assignment(randomUUID()));
    assertAnswer(t, AgentErrorCode.QueueFull, full);
    for (const [code, bytes] of Object.entries(RAW)) {
      assertAnswer(t, code, await rawAnswer(agent.port, bytes));
    }
  });

  test('500: an unexpected error reads as on the manager, "internal error: <message>"', async () => {
    const id = randomUUID();
    // The handler's store query fails: the database under it is gone.
    const db = (agent.store as unknown as { db: SqliteExec }).db;
    assert.ok(db, 'the agent store keeps its database as `db`');
    const broken = await withoutAssignmentsTable(db, () => call('GET', `/assignments/${id}`));
    assertAnswer(AGENT_ERROR_STATUS, AgentErrorCode.Internal, broken);
    assert.match(JSON.parse(broken.body).message, /^internal error: /);
  });
});

interface SqliteExec {
  exec(sql: string): unknown;
}

/** Runs `fn` while the agent's `assignments` table is renamed away, then puts it back. */
async function withoutAssignmentsTable<T>(db: SqliteExec, fn: () => Promise<T>): Promise<T> {
  const exec = (sql: string) => db.exec(sql);
  exec('ALTER TABLE assignments RENAME TO assignments_gone');
  try {
    return await fn();
  } finally {
    exec('ALTER TABLE assignments_gone RENAME TO assignments');
  }
}
