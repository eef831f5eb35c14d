/**
 * The HTTP client for rebalancer agents, in L's wire format (agent.md §2, manager.md §4.7–4.8):
 * `POST /assignments` with `{"id", "tasks"}`, `GET /assignments/<id>`. Connections are pooled
 * per agent; every request has a timeout; a request without an answer is an AgentTransportError.
 */
import { Agent, request } from 'undici';
import type { AgentAssignmentState, AssignmentPayload } from '../../../api/agent.ts';
import { decodeTaskStatus, type Task } from '../../../api/common.ts';
import type { StorageNodeRef } from '../../../api/manager.ts';
import {
  type AgentClient,
  AgentTransportError,
  type CheckOutcome,
  type PostOutcome,
} from './types.ts';

export interface HttpAgentClientOptions {
  /** The agents' port (L: 7878). */
  port?: number;
  /** Base URL of a shark's agent; default `http://<manta_storage_id>:<port>`. */
  urlFor?: (dest: StorageNodeRef) => string;
  timeoutMs?: number;
}

function describe(err: unknown): string {
  return err instanceof Error
    ? `${err.message}${err.cause instanceof Error ? ` (${err.cause.message})` : ''}`
    : String(err);
}

/** Decodes the agent's `{"uuid", "stats": {"state", ...}}`; throws on anything else. */
export function decodeAgentState(body: unknown): AgentAssignmentState {
  const stats = (body as { stats?: { state?: unknown } } | null)?.stats;
  const state = stats?.state;
  if (state === 'Scheduled' || state === 'Running') return state;
  if (typeof state === 'object' && state !== null && 'Complete' in state) {
    const list = (state as { Complete: unknown }).Complete;
    if (list === null) return { Complete: null };
    if (Array.isArray(list)) {
      const tasks: Task[] = list.map((t, i) => {
        const status = decodeTaskStatus((t as { status?: unknown } | null)?.status);
        const id = (t as { object_id?: unknown } | null)?.object_id;
        if (status === undefined || typeof id !== 'string') {
          throw new Error(`failed task ${i} is not a task: ${JSON.stringify(t)}`);
        }
        return { ...(t as Task), status };
      });
      return { Complete: tasks };
    }
  }
  throw new Error(`not an assignment state: ${JSON.stringify(state)}`);
}

export class HttpAgentClient implements AgentClient {
  private readonly dispatcher: Agent;
  private readonly urlFor: (dest: StorageNodeRef) => string;

  constructor(options: HttpAgentClientOptions = {}) {
    const port = options.port ?? 7878;
    const timeout = options.timeoutMs ?? 30_000;
    this.urlFor = options.urlFor ?? ((d) => `http://${d.manta_storage_id}:${port}`);
    this.dispatcher = new Agent({ headersTimeout: timeout, bodyTimeout: timeout, connections: 8 });
  }

  async post(
    dest: StorageNodeRef,
    payload: AssignmentPayload,
    signal: AbortSignal,
  ): Promise<PostOutcome> {
    const url = `${this.urlFor(dest)}/assignments`;
    let res: Awaited<ReturnType<typeof request>>;
    try {
      res = await request(url, {
        method: 'POST',
        body: JSON.stringify(payload),
        headers: { 'content-type': 'application/json' },
        dispatcher: this.dispatcher,
        signal,
      });
    } catch (err) {
      signal.throwIfAborted();
      throw new AgentTransportError(`POST ${url}: ${describe(err)}`, { cause: err });
    }
    const text = await res.body.text();
    if (res.statusCode >= 200 && res.statusCode < 300) return { kind: 'accepted' };
    if (res.statusCode === 503) return { kind: 'busy' };
    return { kind: 'rejected', status: res.statusCode, message: text.slice(0, 500) };
  }

  async get(dest: StorageNodeRef, id: string, signal: AbortSignal): Promise<CheckOutcome> {
    const url = `${this.urlFor(dest)}/assignments/${id}`;
    let status: number;
    let text: string;
    try {
      const res = await request(url, { method: 'GET', dispatcher: this.dispatcher, signal });
      status = res.statusCode;
      text = await res.body.text();
    } catch (err) {
      signal.throwIfAborted();
      throw new AgentTransportError(`GET ${url}: ${describe(err)}`, { cause: err });
    }
    if (status < 200 || status >= 300) return { kind: 'missing', status };
    try {
      return { kind: 'state', state: decodeAgentState(JSON.parse(text)) };
    } catch (err) {
      // L polls again after an unparsable answer; counting it as a failed poll does the same.
      throw new AgentTransportError(`GET ${url}: unparsable answer: ${describe(err)}`, {
        cause: err,
      });
    }
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}
