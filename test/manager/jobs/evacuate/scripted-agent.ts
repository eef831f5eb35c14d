/**
 * A real HTTP server on port 0 speaking the agent API (agent.md §2: `POST /assignments`,
 * `GET /assignments/<id>`) whose answers a test controls: busy (503), forced statuses (404,
 * 400), stalls, an outage (connections refused) and a restart on the same port.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Task } from '../../../../src/api/common.ts';
import { HttpAgentClient } from '../../../../src/manager/jobs/evacuate/agent-client.ts';

interface Held {
  tasks: Task[];
  /** Undefined while running; the failed tasks once complete. */
  failed: Task[] | undefined;
}

export class ScriptedAgent {
  readonly held = new Map<string, Held>();
  /** Assignment ids in the order their posts arrived (refused ones included). */
  readonly posts: string[] = [];
  /** The assignments it took, with their task counts and when (performance.now()). */
  readonly accepted: { id: string; tasks: number; at: number }[] = [];
  gets = 0;
  /** Answer every POST with this status (503 busy, 400, ...) while set. */
  postStatus: number | undefined;
  /** Answer every GET with this status (404, 500, ...) while set. */
  getStatus: number | undefined;
  /** Report posted assignments Complete at once, with no failed task. */
  autoComplete = false;
  /** Most assignments held unfinished at once. */
  maxUnfinished = 0;
  private stalled: Promise<void> | undefined;
  private server: Server;
  private portNumber = 0;

  private constructor() {
    this.server = this.newServer();
  }

  static async start(): Promise<ScriptedAgent> {
    const agent = new ScriptedAgent();
    await agent.listen(0);
    return agent;
  }

  /** Forgets what it was given and answers normally again (between a suite's tests). */
  reset(autoComplete: boolean): void {
    this.held.clear();
    this.posts.length = 0;
    this.accepted.length = 0;
    this.postStatus = undefined;
    this.getStatus = undefined;
    this.autoComplete = autoComplete;
  }

  get url(): string {
    return `http://127.0.0.1:${this.portNumber}`;
  }

  get unfinished(): number {
    let n = 0;
    for (const h of this.held.values()) if (h.failed === undefined) n++;
    return n;
  }

  complete(id: string, failed: Task[] = []): void {
    const h = this.held.get(id);
    if (!h) throw new Error(`the agent does not hold ${id}`);
    h.failed = failed;
  }

  completeAll(): void {
    for (const id of this.held.keys())
      if (this.held.get(id)?.failed === undefined) this.complete(id);
  }

  /** Requests wait, unanswered, until the returned function is called. */
  stall(): () => void {
    let release!: () => void;
    this.stalled = new Promise((resolve) => {
      release = resolve;
    });
    return () => {
      this.stalled = undefined;
      release();
    };
  }

  /** An outage: the port refuses connections until restart(). */
  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  async restart(): Promise<void> {
    this.server = this.newServer();
    await this.listen(this.portNumber);
  }

  async close(): Promise<void> {
    if (this.server.listening) await this.stop();
  }

  private newServer(): Server {
    return createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        void this.answer(req, res, body);
      });
    });
  }

  private listen(port: number): Promise<void> {
    return new Promise((resolve) => {
      this.server.listen(port, '127.0.0.1', () => {
        this.portNumber = (this.server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  private async answer(req: IncomingMessage, res: ServerResponse, body: string): Promise<void> {
    await this.stalled;
    const error = (status: number): void => {
      res
        .writeHead(status, { 'content-type': 'application/json' })
        .end(JSON.stringify({ code: `Status${status}`, message: 'scripted answer' }));
    };
    if (req.method === 'POST' && req.url === '/assignments') {
      const { id, tasks } = JSON.parse(body) as { id: string; tasks: Task[] };
      this.posts.push(id);
      if (this.postStatus !== undefined) return error(this.postStatus);
      if (this.held.has(id)) return error(409);
      this.held.set(id, { tasks, failed: this.autoComplete ? [] : undefined });
      this.accepted.push({ id, tasks: tasks.length, at: performance.now() });
      this.maxUnfinished = Math.max(this.maxUnfinished, this.unfinished);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(id));
      return;
    }
    const id = /^\/assignments\/([^/]+)$/.exec(req.url ?? '')?.[1];
    if (req.method !== 'GET' || id === undefined) return error(404);
    this.gets++;
    if (this.getStatus !== undefined) return error(this.getStatus);
    const h = this.held.get(id);
    if (!h) return error(404);
    const done = h.failed !== undefined;
    const state = done ? { Complete: h.failed?.length ? h.failed : null } : 'Running';
    const stats = {
      state,
      failed: h.failed?.length ?? 0,
      complete: done ? h.tasks.length : 0,
      total: h.tasks.length,
    };
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ uuid: id, stats }));
  }
}

/** One scripted agent per shark, and the manager's real agent client pointed at them. */
export async function scriptedAgents(sharks: readonly { manta_storage_id: string }[]) {
  const agents = new Map<string, ScriptedAgent>();
  for (const s of sharks) agents.set(s.manta_storage_id, await ScriptedAgent.start());
  const agent = (s: { manta_storage_id: string }): ScriptedAgent => {
    const a = agents.get(s.manta_storage_id);
    if (!a) throw new Error(`no scripted agent for ${s.manta_storage_id}`);
    return a;
  };
  const client = new HttpAgentClient({ urlFor: (d) => agent(d).url, timeoutMs: 5000 });
  return {
    client,
    agent,
    async close(): Promise<void> {
      await client.close();
      for (const a of agents.values()) await a.close();
    },
  };
}
