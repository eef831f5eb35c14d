/**
 * The HTTP client for rebalancer agents, in L's wire format (agent.md §2, manager.md §4.7–4.8):
 * `POST /assignments` with `{"id", "tasks"}`, `GET /assignments/<id>`, as declared in
 * src/api/agent-routes.ts; every 2xx answer is checked against the route's schema. Connections
 * are pooled per agent; every request has a timeout. A request without a whole, well-formed
 * answer — refused, reset, timed out, cut off mid-body, unparsable — is an AgentTransportError
 * (an answer of the wrong shape is its subclass AgentResponseError, naming the route and the
 * first mismatch); a 401 is an AgentUnauthorizedError. Error answers are told apart by status
 * alone: L's bodies were empty or plain text (agent.md §2.1).
 */
import type { TSchema } from 'typebox';
import { Agent, request } from 'undici';
import type { AgentAssignmentState, AssignmentPayload } from '../../../api/agent.ts';
import { agentRoutes } from '../../../api/agent-routes.ts';
import type { StorageNode } from '../../../api/common.ts';
import {
  type Mismatch,
  RouteContract,
  type RouteDecl,
  routePath,
} from '../../../api/http-routes.ts';
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
  urlFor?: (dest: StorageNode) => string;
  timeoutMs?: number;
  /** The agents' `auth_token`: sent as `authorization: Bearer <token>` on every request. */
  authToken?: string | undefined;
}

/**
 * A 2xx answer that does not match the route's declared schema. Transient like any other
 * unusable answer (L polls again after one), hence an AgentTransportError.
 */
export class AgentResponseError extends AgentTransportError {
  override readonly code = 'agent_bad_response';
  // `name` stays the base's (typed as that literal in types.ts); logs show the class name.
  constructor(
    /** The route's operationId, e.g. `get_assignment`. */
    readonly route: string,
    readonly mismatch: Mismatch,
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const createAssignment = new RouteContract(agentRoutes.createAssignment);
const getAssignment = new RouteContract(agentRoutes.getAssignment);

function describe(err: unknown): string {
  return err instanceof Error
    ? `${err.message}${err.cause instanceof Error ? ` (${err.cause.message})` : ''}`
    : String(err);
}

interface Answer {
  status: number;
  text: string;
}

/** The 200 answer of a route, checked against its declared schema; else AgentResponseError. */
function success<R extends RouteDecl & { response: { 200: TSchema } }>(
  route: RouteContract<R>,
  url: string,
  { status, text }: Answer,
) {
  const answer = route.checkSuccess(status, text);
  if (answer.ok) return answer.value;
  const { path, message } = answer.mismatch;
  throw new AgentResponseError(
    route.route.operationId,
    answer.mismatch,
    status,
    `${route.name} at ${url}: answer does not match its schema: ` +
      `${path === '' ? '' : `${path}: `}${message}: ${text.slice(0, 200)}`,
  );
}

export class HttpAgentClient implements AgentClient {
  private readonly dispatcher: Agent;
  private readonly urlFor: (dest: StorageNode) => string;
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
    dest: StorageNode,
    payload: AssignmentPayload,
    signal: AbortSignal,
  ): Promise<PostOutcome> {
    const url = `${this.urlFor(dest)}${routePath(createAssignment.route)}`;
    const answer = await this.exchange('POST', url, signal, JSON.stringify(payload));
    const { status, text } = answer;
    if (status >= 200 && status < 300) {
      success(createAssignment, url, answer);
      return { kind: 'accepted' };
    }
    if (status === 503) return { kind: 'busy' };
    // 409 among them: the agent has the assignment already (the lanes count it as posted).
    return { kind: 'rejected', status, message: text.slice(0, 500) };
  }

  async get(dest: StorageNode, id: string, signal: AbortSignal): Promise<CheckOutcome> {
    const url = `${this.urlFor(dest)}${routePath(getAssignment.route, { uuid: id })}`;
    const answer = await this.exchange('GET', url, signal);
    const { status, text } = answer;
    // A 5xx (e.g. the agent shutting down) says nothing about the assignment: poll again.
    if (status >= 500) {
      throw new AgentTransportError(`GET ${url}: HTTP ${status}: ${text.slice(0, 200)}`);
    }
    if (status < 200 || status >= 300) return { kind: 'missing', status };
    const state: AgentAssignmentState = success(getAssignment, url, answer).stats.state;
    return { kind: 'state', state };
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
