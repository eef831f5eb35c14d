/**
 * The HTTP client for rebalancer agents, in L's wire format (agent.md §2, manager.md §4.7–4.8):
 * `POST /assignments` with `{"id", "tasks"}`, `GET /assignments/<id>`. Connections are pooled
 * per agent; every request has a timeout. A request without a whole, well-formed answer —
 * refused, reset, timed out, cut off mid-body, unparsable — is an AgentTransportError; a 401 is
 * an AgentUnauthorizedError.
 */
import { Compile } from 'typebox/compile';
import { Agent, request } from 'undici';
import {
  type AgentAssignmentState,
  type AssignmentPayload,
  Assignment as AssignmentSchema,
} from '../../../api/agent.ts';
import type { StorageNodeRef } from '../../../api/manager.ts';
import {
  type AgentClient,
  AgentTransportError,
  AgentUnauthorizedError,
  type CheckOutcome,
  type PostOutcome,
} from './types.ts';

export interface HttpAgentClientOptions {
  /** The agents' port (L: 7878). */
  port?: number;
  /** Base URL of a shark's agent; default `http://<manta_storage_id>:<port>`. */
  urlFor?: (dest: StorageNodeRef) => string;
  timeoutMs?: number;
  /** The agents' `auth_token`: sent as `authorization: Bearer <token>` on every request. */
  authToken?: string | undefined;
}

const checkAssignment = Compile(AssignmentSchema);

function describe(err: unknown): string {
  return err instanceof Error
    ? `${err.message}${err.cause instanceof Error ? ` (${err.cause.message})` : ''}`
    : String(err);
}

/** Decodes the agent's `{"uuid", "stats": {"state", ...}}` (src/api Assignment); throws on anything else. */
export function decodeAgentState(body: unknown): AgentAssignmentState {
  if (checkAssignment.Check(body)) return body.stats.state;
  const [first] = checkAssignment.Errors(body);
  const where = first?.instancePath ? ` at ${first.instancePath}` : '';
  throw new Error(`not an agent assignment${where}: ${first?.message ?? 'invalid'}`);
}

interface Answer {
  status: number;
  text: string;
}

export class HttpAgentClient implements AgentClient {
  private readonly dispatcher: Agent;
  private readonly urlFor: (dest: StorageNodeRef) => string;
  private readonly auth: Record<string, string>;

  constructor(options: HttpAgentClientOptions = {}) {
    const port = options.port ?? 7878;
    const timeout = options.timeoutMs ?? 30_000;
    this.urlFor = options.urlFor ?? ((d) => `http://${d.manta_storage_id}:${port}`);
    this.auth =
      options.authToken === undefined ? {} : { authorization: `Bearer ${options.authToken}` };
    this.dispatcher = new Agent({ headersTimeout: timeout, bodyTimeout: timeout, connections: 8 });
  }

  async post(
    dest: StorageNodeRef,
    payload: AssignmentPayload,
    signal: AbortSignal,
  ): Promise<PostOutcome> {
    const url = `${this.urlFor(dest)}/assignments`;
    const { status, text } = await this.exchange('POST', url, signal, JSON.stringify(payload));
    if (status >= 200 && status < 300) return { kind: 'accepted' };
    if (status === 503) return { kind: 'busy' };
    return { kind: 'rejected', status, message: text.slice(0, 500) };
  }

  async get(dest: StorageNodeRef, id: string, signal: AbortSignal): Promise<CheckOutcome> {
    const url = `${this.urlFor(dest)}/assignments/${id}`;
    const { status, text } = await this.exchange('GET', url, signal);
    // A 5xx (e.g. the agent shutting down) says nothing about the assignment: poll again.
    if (status >= 500) {
      throw new AgentTransportError(`GET ${url}: HTTP ${status}: ${text.slice(0, 200)}`);
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

  /** One request and its whole body; transport failures at any point are AgentTransportError. */
  private async exchange(
    method: 'GET' | 'POST',
    url: string,
    signal: AbortSignal,
    body?: string,
  ): Promise<Answer> {
    let answer: Answer;
    try {
      const res = await request(url, {
        method,
        dispatcher: this.dispatcher,
        signal,
        ...(body === undefined
          ? { headers: this.auth }
          : { body, headers: { ...this.auth, 'content-type': 'application/json' } }),
      });
      // Inside the try: a connection dropped while the body is in flight is a transport failure.
      answer = { status: res.statusCode, text: await res.body.text() };
    } catch (err) {
      signal.throwIfAborted();
      throw new AgentTransportError(`${method} ${url}: ${describe(err)}`, { cause: err });
    }
    if (answer.status === 401) {
      throw new AgentUnauthorizedError(
        `${method} ${url}: HTTP 401: the agent refused the manager's bearer token ` +
          `(the manager's agent auth token must equal the agent's auth_token): ${answer.text.slice(0, 200)}`,
      );
    }
    return answer;
  }
}
