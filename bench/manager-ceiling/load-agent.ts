/**
 * BENCHMARK LOAD GENERATOR — never a test stand-in, never an agent. It answers the rebalancer
 * agent's HTTP API (src/api/agent.ts, src/api/agent-routes.ts, as src/agent/server.ts serves
 * it) so that the manager-ceiling benchmark can measure what one manager drives when agents
 * cost nothing: every assignment it accepts is at once `{"Complete": null}` (every task
 * succeeded) and no byte is copied. Nothing it says is true of any object on any disk; a
 * manager pointed at it rewrites metadata to copies that do not exist. Use it only against
 * a throw-away sandbox.
 *
 * What it does check, as the agent does: the bearer token, the body against the TypeBox
 * schema of `POST /assignments` (object form, and L's positional `["<id>", [Task…]]`), the id
 * (a UUID, answered canonical), duplicates (409); unknown ids are 404.
 *
 * Run as a child process: `node --import tsx load-agent.ts --sharks a,b,c`, with the bearer
 * token the manager sends in the environment variable LOAD_AGENT_TOKEN (none: no auth). It
 * starts one node:http server per shark on 127.0.0.1, port 0, and prints one line
 * `{"listening":{"<shark>":port,…}}`. Each line `stats` on stdin is answered by one line
 * `{"stats":{…}}` of counters; stdin closing (or SIGTERM) stops it.
 */
import { timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Type } from 'typebox';
import { Compile } from 'typebox/compile';
import { type AgentAssignmentStats, AssignmentId, AssignmentPayload } from '../../src/api/agent.ts';
import { TaskInput } from '../../src/api/common.ts';

/** The positional form L's agent also accepts: `["<id>", [Task, …]]`. */
const PositionalPayload = Type.Tuple([AssignmentId, Type.Array(TaskInput)]);
const checkObjectForm = Compile(AssignmentPayload);
const checkPositionalForm = Compile(PositionalPayload);

/** The environment variable that carries the agents' bearer token to the child process. */
export const TOKEN_ENV = 'LOAD_AGENT_TOKEN';
const MAX_BODY_BYTES = 64 * 1024 * 1024;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SIMPLE_UUID_RE = /^[0-9a-f]{32}$/;

export interface LoadAgentStats {
  posts: number;
  tasks: number;
  gets: number;
  deletes: number;
  /** Answers 4xx/5xx by status. */
  refused: Record<string, number>;
}

/** Lower-case hyphenated, as the agent answers; undefined when not a UUID. */
function canonical(id: string): string | undefined {
  const v = id.toLowerCase();
  if (SIMPLE_UUID_RE.test(v)) {
    return `${v.slice(0, 8)}-${v.slice(8, 12)}-${v.slice(12, 16)}-${v.slice(16, 20)}-${v.slice(20)}`;
  }
  return UUID_RE.test(v) ? v : undefined;
}

/** One shark's pretend agent: the assignments it was given (id → task count). */
class LoadAgent {
  readonly assignments = new Map<string, number>();

  constructor(
    readonly shark: string,
    private readonly stats: LoadAgentStats,
    private readonly token: Buffer | undefined,
  ) {}

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.token && !this.authorized(req.headers.authorization)) {
      res.setHeader('www-authenticate', 'Bearer');
      return this.error(res, 401, 'Unauthorized', 'missing or wrong bearer token');
    }
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === '/assignments') {
      if (req.method === 'POST') return this.post(req, res);
      return this.error(res, 405, 'MethodNotAllowed', 'method not allowed');
    }
    const m = /^\/assignments\/([^/]+)$/.exec(path);
    if (m) {
      const id = canonical(decodeURIComponent(m[1] ?? ''));
      if (id === undefined) return this.error(res, 400, 'BadRequest', 'not a UUID', 'uuid');
      if (req.method === 'GET' || req.method === 'HEAD') return this.get(req, res, id);
      if (req.method === 'DELETE') return this.delete(res, id);
      return this.error(res, 405, 'MethodNotAllowed', 'method not allowed');
    }
    return this.error(res, 404, 'NotFound', `no route ${req.method} ${path}`);
  }

  private authorized(header: string | undefined): boolean {
    const m = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m || !this.token) return false;
    const given = Buffer.from(m[1] ?? '', 'utf8');
    return given.length === this.token.length && timingSafeEqual(given, this.token);
  }

  private async post(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        res.setHeader('connection', 'close');
        return this.error(res, 413, 'PayloadTooLarge', 'request body too large');
      }
      chunks.push(chunk);
    }
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch (err) {
      return this.error(res, 400, 'BadRequest', `body: not JSON: ${(err as Error).message}`);
    }
    let rawId: string;
    let taskCount: number;
    if (checkObjectForm.Check(body)) {
      rawId = body.id;
      taskCount = body.tasks.length;
    } else if (checkPositionalForm.Check(body)) {
      rawId = body[0];
      taskCount = body[1].length;
    } else {
      const [first] = checkObjectForm.Errors(body);
      const where = first ? `${first.instancePath || '(body)'}: ${first.message}` : 'bad shape';
      return this.error(res, 400, 'BadRequest', `body does not match AssignmentPayload: ${where}`);
    }
    const id = canonical(rawId);
    if (id === undefined) return this.error(res, 400, 'BadRequest', 'id: must be a UUID', 'id');
    if (this.assignments.has(id)) {
      return this.error(res, 409, 'Conflict', `assignment ${id} exists`);
    }
    this.assignments.set(id, taskCount);
    this.stats.posts++;
    this.stats.tasks += taskCount;
    this.json(res, 200, JSON.stringify(id));
  }

  private get(req: IncomingMessage, res: ServerResponse, id: string): void {
    const total = this.assignments.get(id);
    if (total === undefined) {
      this.error(res, 404, 'NotFound', `assignment ${id} not found`);
      return;
    }
    this.stats.gets++;
    // Every task "succeeded" the moment it was posted: nothing is copied (see the header).
    const stats: AgentAssignmentStats = {
      state: { Complete: null },
      failed: 0,
      complete: total,
      total,
    };
    const text = JSON.stringify({ uuid: id, stats });
    if (req.method === 'HEAD') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': text.length });
      res.end();
      return;
    }
    this.json(res, 200, text);
  }

  private delete(res: ServerResponse, id: string): void {
    if (!this.assignments.delete(id)) {
      this.error(res, 404, 'NotFound', `assignment ${id} not found`);
      return;
    }
    this.stats.deletes++;
    res.writeHead(200, { 'content-length': 0 });
    res.end();
  }

  private json(res: ServerResponse, status: number, text: string): void {
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
  }

  private error(
    res: ServerResponse,
    status: number,
    code: string,
    message: string,
    field?: string,
  ): void {
    this.stats.refused[String(status)] = (this.stats.refused[String(status)] ?? 0) + 1;
    this.json(res, status, JSON.stringify(field ? { code, message, field } : { code, message }));
  }
}

/** Starts one server per shark; resolves with each one's port. */
export async function startLoadAgents(
  sharks: readonly string[],
  token: string | undefined,
): Promise<{ ports: Record<string, number>; stats: LoadAgentStats; close(): Promise<void> }> {
  const stats: LoadAgentStats = { posts: 0, tasks: 0, gets: 0, deletes: 0, refused: {} };
  const secret = token === undefined ? undefined : Buffer.from(token, 'utf8');
  const servers: Server[] = [];
  const ports: Record<string, number> = {};
  for (const shark of sharks) {
    const agent = new LoadAgent(shark, stats, secret);
    const server = createServer((req, res) => {
      agent.handle(req, res).catch((err: Error) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ code: 'InternalError', message: err.message }));
      });
    });
    // The manager's undici pool keeps its connections: so does a real agent's fastify.
    server.keepAliveTimeout = 60_000;
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    servers.push(server);
    ports[shark] = (server.address() as AddressInfo).port;
  }
  return {
    ports,
    stats,
    async close() {
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((resolve) => {
              s.close(() => resolve());
              s.closeAllConnections();
            }),
        ),
      );
    },
  };
}

/** The child-process entry point (see the header). */
async function main(): Promise<void> {
  const { values } = parseArgs({ options: { sharks: { type: 'string' } } });
  const sharks = (values.sharks ?? '').split(',').filter((s) => s !== '');
  if (sharks.length === 0) throw new Error('--sharks a,b,… is required');
  const agents = await startLoadAgents(sharks, process.env[TOKEN_ENV] || undefined);
  const stop = async () => {
    await agents.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (line.trim() === 'stats')
      process.stdout.write(`${JSON.stringify({ stats: agents.stats })}\n`);
  });
  lines.once('close', () => void stop());
  process.stdout.write(`${JSON.stringify({ listening: agents.ports })}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: Error) => {
    process.stderr.write(`load-agent: ${err.stack ?? err.message}\n`);
    process.exit(1);
  });
}
