/**
 * The manager's client of an agent's file routes (`GET /files`, `POST /files/delete`), as
 * declared in src/api/agent-routes.ts: every answer is checked against its route's schema, the
 * agents' bearer token is the current `agent_auth_token`. Any failure is an AgentFilesError
 * saying which shark and why, in words an operator can act on (the agent has no token, or
 * refuses ours).
 */
import type { TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { Agent, request } from 'undici';
import { AgentErrorCode, ErrorBody } from '../../api/agent.ts';
import type { DeletedFile, FilesPage, ObjectFile } from '../../api/agent-files.ts';
import { agentRoutes } from '../../api/agent-routes.ts';
import { RouteContract, type RouteDecl, routePath } from '../../api/http-routes.ts';
import { RebalancerError } from '../../errors.ts';

/** The shark's agent could not list or delete: unreachable, refusing, or answering nonsense. */
export class AgentFilesError extends RebalancerError {
  override readonly name = 'AgentFilesError';
  readonly code = 'agent_files_failed';
  constructor(
    readonly shark: string,
    message: string,
    /** The agent's HTTP status; undefined when there was no answer. */
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(`agent of ${shark}: ${message}`, options);
  }
}

const checkErrorBody = Compile(ErrorBody);

/** The code of an agent's error answer; undefined when the body is not one. */
function errorCode(text: string): string | undefined {
  try {
    const body: unknown = JSON.parse(text);
    return checkErrorBody.Check(body) ? body.code : undefined;
  } catch {
    return undefined;
  }
}

/** What the orphan finder needs of the agents. */
export interface ShardFiles {
  listPage(shark: string, after: string | undefined, limit: number): Promise<FilesPage>;
  delete(shark: string, files: readonly ObjectFile[]): Promise<DeletedFile[]>;
}

export interface AgentFilesClientOptions {
  /** Base URL of a shark's agent. */
  urlFor(shark: string): string;
  /** The agents' `auth_token` now (a reload may change it). */
  authToken(): string | undefined;
  timeoutMs?: number;
}

const listFiles = new RouteContract(agentRoutes.listFiles);
const deleteFiles = new RouteContract(agentRoutes.deleteFiles);

function reason(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return `${err.message}${err.cause instanceof Error ? ` (${err.cause.message})` : ''}`;
}

export class AgentFilesClient implements ShardFiles {
  private readonly dispatcher: Agent;

  constructor(private readonly options: AgentFilesClientOptions) {
    const timeout = options.timeoutMs ?? 120_000;
    this.dispatcher = new Agent({ headersTimeout: timeout, bodyTimeout: timeout, connections: 4 });
  }

  async listPage(shark: string, after: string | undefined, limit: number): Promise<FilesPage> {
    const query = new URLSearchParams({ limit: String(limit) });
    if (after !== undefined) query.set('after', after);
    return this.call(shark, listFiles, `?${query}`);
  }

  async delete(shark: string, files: readonly ObjectFile[]): Promise<DeletedFile[]> {
    const answer = await this.call(shark, deleteFiles, '', { files });
    if (answer.results.length !== files.length) {
      throw new AgentFilesError(
        shark,
        `${answer.results.length} results for ${files.length} files: the answer is incomplete`,
        200,
      );
    }
    return answer.results;
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  private async call<R extends RouteDecl & { response: { 200: TSchema } }>(
    shark: string,
    route: RouteContract<R>,
    query: string,
    body?: unknown,
  ) {
    const url = `${this.options.urlFor(shark)}${routePath(route.route)}${query}`;
    const token = this.options.authToken();
    let status: number;
    let text: string;
    try {
      const res = await request(url, {
        method: route.route.method,
        dispatcher: this.dispatcher,
        headers: {
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (err) {
      throw new AgentFilesError(shark, `${route.name} at ${url}: ${reason(err)}`, undefined, {
        cause: err,
      });
    }
    if (status === 403 && errorCode(text) === AgentErrorCode.AuthRequired) {
      throw new AgentFilesError(
        shark,
        'its file routes are disabled: set server.auth_token on the agent (and agent_auth_token here)',
        status,
      );
    }
    if (status === 401) {
      throw new AgentFilesError(shark, "it refused this manager's agent_auth_token (401)", status);
    }
    if (status !== 200) {
      throw new AgentFilesError(
        shark,
        `${route.name}: HTTP ${status}: ${text.slice(0, 300)}`,
        status,
      );
    }
    const answer = route.checkSuccess(status, text);
    if (!answer.ok) {
      const { path, message } = answer.mismatch;
      throw new AgentFilesError(
        shark,
        `${route.name}: answer does not match its schema: ${path === '' ? '' : `${path}: `}${message}`,
        status,
      );
    }
    return answer.value;
  }
}
