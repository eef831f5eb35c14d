/**
 * The agent's HTTP API (agent.md §2): L's routes, status codes and JSON encodings, with
 * JSON error bodies, validation naming the bad field (400), 409 duplicates, 503
 * backpressure, 413 oversize bodies and optional bearer-token authentication. The routes
 * (method, path, schemas) are declared in src/api/agent-routes.ts; only the handlers are here.
 */
import { timingSafeEqual } from 'node:crypto';
import { Readable } from 'node:stream';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { AgentErrorCode, type ErrorBody } from '../api/agent.ts';
import { agentMethodsNotAllowed, agentRoutes } from '../api/agent-routes.ts';
import { fastifyRoute } from '../api/http-routes.ts';
import { JsonBodyError, type JsonLimits, parseJsonBody } from '../api/json-body.ts';
import {
  clientErrorHandler,
  guardProtocolErrors,
  internalErrorMessage,
  lacksRequiredHost,
  NODE_HTTP_OPTIONS,
  ProtocolErrorCode,
} from '../api/protocol-errors.ts';
import { STRICT_AJV, schemaErrorFormatter } from '../api/validation.ts';
import type { Logger } from '../log/index.ts';
import { registerFileRoutes } from './files.ts';
import type { AgentMetrics } from './metrics.ts';
import {
  canonicalUuid,
  decodeAssignmentPayload,
  PayloadError,
  type PayloadRules,
  type ValidPayload,
} from './payload.ts';
import type { Scheduler } from './scheduler.ts';
import { type AgentStore, type AssignmentRow, DuplicateAssignmentError } from './store/index.ts';

export interface ServerOptions {
  readonly store: AgentStore;
  readonly scheduler: Scheduler;
  readonly metrics: AgentMetrics;
  readonly log: Logger;
  readonly rules: PayloadRules;
  readonly maxQueued: number;
  readonly bodyLimitBytes: number;
  /** When set, every request must carry `Authorization: Bearer <token>`. */
  readonly authToken?: string | undefined;
  /** True once shutdown began: new assignments are refused with 503. */
  readonly isShuttingDown?: () => boolean;
}

/**
 * Every code the agent's API answers with, and its one status. Every error answer goes
 * through `sendError`, which takes the status from here; the protocol codes are answered by
 * src/api/protocol-errors.ts before a request reaches fastify, with the same statuses.
 */
export const AGENT_ERROR_STATUS = {
  [AgentErrorCode.BadRequest]: 400,
  [AgentErrorCode.Unauthorized]: 401,
  [AgentErrorCode.Forbidden]: 403,
  [AgentErrorCode.AuthRequired]: 403,
  [AgentErrorCode.NotFound]: 404,
  [AgentErrorCode.MethodNotAllowed]: 405,
  [AgentErrorCode.Conflict]: 409,
  [AgentErrorCode.PayloadTooLarge]: 413,
  [AgentErrorCode.QueueFull]: 503,
  [AgentErrorCode.ShuttingDown]: 503,
  [AgentErrorCode.Internal]: 500,
  [ProtocolErrorCode.RequestTimeout]: 408,
  [ProtocolErrorCode.ExpectationFailed]: 417,
  [ProtocolErrorCode.HeadersTooLarge]: 431,
} as const satisfies Record<string, number>;
type AgentAnswerCode = keyof typeof AGENT_ERROR_STATUS;

function sendError(
  reply: FastifyReply,
  code: AgentAnswerCode,
  message: string,
  field?: string,
): FastifyReply {
  const body: ErrorBody = field === undefined ? { code, message } : { code, message, field };
  return reply.code(AGENT_ERROR_STATUS[code]).type('application/json').send(body);
}

/** `{"uuid":…,"stats":{"state":{"Complete":[…]},…}}`, exactly as describe() would encode it. */
async function* completeBody(store: AgentStore, row: AssignmentRow): AsyncGenerator<string> {
  yield `{"uuid":${JSON.stringify(row.uuid)},"stats":{"state":{"Complete":[`;
  let first = true;
  for (const page of store.failedTaskPages(row.seq)) {
    let chunk = '';
    for (const task of page) {
      chunk += first ? JSON.stringify(task) : `,${JSON.stringify(task)}`;
      first = false;
    }
    yield chunk;
  }
  yield `]},"failed":${row.failed},"complete":${row.complete},"total":${row.total}}}`;
}

/**
 * Bounds checked on the raw body before JSON.parse. A real payload nests 5 deep (payload,
 * tasks, task, status, reason), its longest string is a storage id (at most 259 bytes) and
 * it has at most 4 objects/arrays per task; beyond that it is hostile or broken.
 */
function jsonLimits(maxTasks: number): JsonLimits {
  return { maxDepth: 16, maxStringBytes: 16 * 1024, maxContainers: 4 * maxTasks + 16 };
}

function tokenMatches(header: string | undefined, expected: Buffer): boolean {
  if (header === undefined) return false;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m) return false;
  const given = Buffer.from(m[1]!, 'utf8');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Builds the fastify app (not listening); `app.swagger()` needs @fastify/swagger registered first. */
export async function buildAgentApp(
  options: ServerOptions,
  setup?: (app: FastifyInstance) => Promise<void>,
): Promise<FastifyInstance> {
  const { store, scheduler, metrics, log, rules } = options;
  const app = Fastify({
    logger: false,
    bodyLimit: options.bodyLimitBytes,
    return503OnClosing: true,
    http: NODE_HTTP_OPTIONS,
    clientErrorHandler,
    ajv: STRICT_AJV,
    schemaErrorFormatter,
    // A URL fastify cannot route (bad percent-encoding, over-long parameter).
    frameworkErrors: (err, _req, reply) => {
      metrics.requestError('bad_request');
      return sendError(reply, AgentErrorCode.BadRequest, err.message);
    },
  }).withTypeProvider<TypeBoxTypeProvider>();
  guardProtocolErrors(app.server);
  if (setup) await setup(app);

  app.addHook('onRequest', async (req, reply) => {
    if (lacksRequiredHost(req.raw)) {
      metrics.requestError('bad_request');
      reply.header('connection', 'close');
      return sendError(reply, AgentErrorCode.BadRequest, 'HTTP/1.1 request without Host');
    }
  });

  // L ignores Content-Type: every body is parsed as JSON, within bounds.
  const limits = jsonLimits(rules.maxTasks);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(body as Buffer, limits));
    } catch (err) {
      const refused = err instanceof JsonBodyError;
      done(refused ? new PayloadError('body', err.message, err.status === 413) : (err as Error));
    }
  });

  const expected =
    options.authToken === undefined ? undefined : Buffer.from(options.authToken, 'utf8');
  if (expected !== undefined) {
    app.addHook('onRequest', async (req, reply) => {
      if (!tokenMatches(req.headers.authorization, expected)) {
        metrics.requestError('unauthorized');
        reply.header('www-authenticate', 'Bearer');
        return sendError(reply, AgentErrorCode.Unauthorized, 'missing or wrong bearer token');
      }
    });
  }

  app.setErrorHandler((err, req, reply) => {
    if (err instanceof PayloadError) {
      metrics.requestError(err.tooLarge ? 'payload_too_large' : 'bad_request');
      const code = err.tooLarge ? AgentErrorCode.PayloadTooLarge : AgentErrorCode.BadRequest;
      return sendError(reply, code, err.message, err.field);
    }
    const status = (err as { statusCode?: number }).statusCode;
    if (status === 413) {
      metrics.requestError('payload_too_large');
      return sendError(reply, AgentErrorCode.PayloadTooLarge, 'request body too large');
    }
    // fastify's own refusals (validation, bad Content-Length, ...): all bad input.
    if (status !== undefined && status >= 400 && status < 500) {
      metrics.requestError('bad_request');
      return sendError(reply, AgentErrorCode.BadRequest, (err as Error).message);
    }
    metrics.requestError('internal');
    log.error({ err, url: req.url, method: req.method }, 'request failed');
    return sendError(reply, AgentErrorCode.Internal, internalErrorMessage(err));
  });

  app.setNotFoundHandler((req, reply) =>
    sendError(reply, AgentErrorCode.NotFound, `no route ${req.method} ${req.url}`),
  );

  app.route({
    ...fastifyRoute(agentRoutes.createAssignment),
    // The body is decoded by our own validator: it also takes the positional form,
    // checks ids/paths and names the first bad field.
    validatorCompiler: () => (data: unknown) => {
      try {
        return { value: decodeAssignmentPayload(data, rules) };
      } catch (err) {
        return { error: err as Error };
      }
    },
    handler: async (req, reply) => {
      metrics.request('POST');
      // Replaced by the validator above with a ValidPayload.
      const payload = req.body as unknown as ValidPayload;
      if (options.isShuttingDown?.()) {
        return sendError(reply, AgentErrorCode.ShuttingDown, 'agent is shutting down');
      }
      if (store.get(payload.id) !== undefined) {
        metrics.requestError('conflict');
        return sendError(reply, AgentErrorCode.Conflict, `assignment ${payload.id} exists`);
      }
      if (scheduler.size >= options.maxQueued) {
        metrics.requestError('queue_full');
        log.warn(
          { assignment: payload.id, queued: scheduler.size, max: options.maxQueued },
          'Rejecting assignment: queue full',
        );
        reply.header('retry-after', '5');
        return sendError(
          reply,
          AgentErrorCode.QueueFull,
          `${scheduler.size} assignments queued, limit ${options.maxQueued}`,
        );
      }
      let row: ReturnType<AgentStore['createAssignment']>;
      try {
        row = store.createAssignment(payload.id, payload.tasks(), payload.taskCount);
      } catch (err) {
        if (err instanceof DuplicateAssignmentError) {
          metrics.requestError('conflict');
          return sendError(reply, AgentErrorCode.Conflict, err.message);
        }
        throw err;
      }
      log.info({ assignment: row.uuid, tasks: row.total }, 'assignment accepted');
      scheduler.enqueue(row);
      // L answers with the id as a JSON string.
      return reply.code(200).type('application/json').send(JSON.stringify(row.uuid));
    },
  });

  app.route({
    ...fastifyRoute(agentRoutes.getAssignment),
    handler: async (req, reply) => {
      metrics.request('GET');
      const uuid = canonicalUuid(req.params.uuid);
      if (uuid === undefined) {
        metrics.requestError('bad_request');
        return sendError(reply, AgentErrorCode.BadRequest, 'not a UUID', 'uuid');
      }
      const row = store.get(uuid);
      if (row === undefined) {
        return sendError(reply, AgentErrorCode.NotFound, `assignment ${uuid} not found`);
      }
      if (row.state === 'complete' && row.failed > 0) {
        // The failure list can be long: stream it page by page instead of building it.
        return (reply as FastifyReply)
          .code(200)
          .type('application/json')
          .send(Readable.from(completeBody(store, row)));
      }
      return reply.code(200).send(store.describe(row));
    },
  });

  app.route({
    ...fastifyRoute(agentRoutes.deleteAssignment),
    handler: async (req, reply) => {
      metrics.request('DELETE');
      const uuid = canonicalUuid(req.params.uuid);
      if (uuid === undefined) {
        metrics.requestError('bad_request');
        return sendError(reply, AgentErrorCode.BadRequest, 'not a UUID', 'uuid');
      }
      const row = store.get(uuid);
      if (row === undefined) {
        return sendError(reply, AgentErrorCode.NotFound, `assignment ${uuid} not found`);
      }
      if (row.state !== 'complete') {
        return sendError(
          reply,
          AgentErrorCode.Forbidden,
          `Attempt to remove scheduled assignment: ${uuid}.`,
        );
      }
      store.delete(row.seq);
      log.info({ assignment: uuid }, 'assignment deleted');
      // L answers 200 with an empty body.
      return (reply as FastifyReply).code(200).send();
    },
  });

  registerFileRoutes(app, {
    objectRoot: rules.objectRoot,
    authConfigured: options.authToken !== undefined,
    metrics,
    log,
    sendError,
  });

  // A known path with another method answers 405, as L's router does (untagged: not in
  // the OpenAPI document).
  const notAllowed = async (_req: unknown, reply: FastifyReply) =>
    sendError(reply, AgentErrorCode.MethodNotAllowed, 'method not allowed');
  for (const { url, methods } of agentMethodsNotAllowed()) {
    app.route({ method: methods, url, handler: notAllowed });
  }
  return app;
}
