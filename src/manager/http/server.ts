/**
 * The manager's HTTP API (manager.md §2): L's routes and payloads, plus cancel, pause,
 * resume, a dry run's plan, duplicates and `GET /metrics`. Every error is a JSON body `{code, message}` with a
 * meaningful status: 400 bad input, 404 unknown job, 409 illegal state change, 503 when a
 * dependency cannot answer (§13.10). The routes (method, path, schemas) are declared in
 * src/api/manager-routes.ts; only the handlers are here.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { fastifyRoute } from '../../api/http-routes.ts';
import { JsonBodyError, type JsonLimits, parseJsonBody } from '../../api/json-body.ts';
import { type ManagerError, ManagerErrorCode } from '../../api/manager.ts';
import { managerRoutes } from '../../api/manager-routes.ts';
import { OrphanRefusalCode } from '../../api/orphans.ts';
import {
  clientErrorHandler,
  guardProtocolErrors,
  internalErrorMessage,
  lacksRequiredHost,
  NODE_HTTP_OPTIONS,
  ProtocolErrorCode,
} from '../../api/protocol-errors.ts';
import { STRICT_AJV, schemaErrorFormatter } from '../../api/validation.ts';
import type { Logger } from '../../log/index.ts';
import { AuditNotRetryableError } from '../audit/executor.ts';
import type { FleetSource } from '../fleet.ts';
import {
  BadRequestError,
  ConflictError,
  NotFoundError,
  SnaplinkCleanupRequiredError,
  UnavailableError,
} from '../jobs/errors.ts';
import type { JobDataService } from '../jobs/job-data.ts';
import type { JobService } from '../jobs/service.ts';
import type { ManagerMetrics } from '../metrics.ts';
import { registerOrphanRoutes } from '../orphans/routes.ts';
import type { OrphanService } from '../orphans/service.ts';
import type { ManagerStore } from '../store/index.ts';
import { type ApiTokens, registerApiAuth } from './auth.ts';
import { registerConsoleRoutes } from './console-routes.ts';
import { registerJobDataRoutes } from './job-data-routes.ts';
import { registerConsoleUi } from './ui.ts';

export const SERVER_VERSION = '0.1.0';

export interface ManagerAppOptions {
  jobs: JobService;
  metrics: ManagerMetrics;
  log: Logger;
  /** The `Server` header's stamp (L: the build's STAMP, else `no-STAMP`). */
  stamp?: string;
  /** The orphan search; without it the orphan routes answer 503. */
  orphans?: OrphanService;
  /** What the console's job routes read; without it they answer 503. */
  store?: ManagerStore;
  /** storinfo and the placement settings, for `GET /sharks`; without it that answers 503. */
  fleet?: FleetSource;
  /** A job's objects and the deletion of finished jobs; without it those routes answer 503. */
  jobData?: JobDataService;
  /** The config's api_token and api_token_read, read per request (a reload rotates them). */
  tokens?: () => ApiTokens;
}

/**
 * Every code the manager's API answers with, and its one status. Every error answer goes
 * through `sendError`, which takes the status from here; the protocol codes are answered by
 * src/api/protocol-errors.ts before a request reaches fastify, with the same statuses.
 */
export const MANAGER_ERROR_STATUS = {
  [ManagerErrorCode.BadRequest]: 400,
  [ManagerErrorCode.Unauthorized]: 401,
  [ManagerErrorCode.NotFound]: 404,
  [ManagerErrorCode.Conflict]: 409,
  [ManagerErrorCode.PayloadTooLarge]: 413,
  [ManagerErrorCode.Unavailable]: 503,
  [ManagerErrorCode.SnaplinkCleanupRequired]: 500,
  [ManagerErrorCode.AuditNotRetryable]: 409,
  [ManagerErrorCode.Internal]: 500,
  [OrphanRefusalCode.AuditNotSafe]: 409,
  [OrphanRefusalCode.JobsRunning]: 409,
  [OrphanRefusalCode.DeletionRunning]: 409,
  [OrphanRefusalCode.MetadataUnreadable]: 409,
  [OrphanRefusalCode.SharkNotEvacuated]: 409,
  [ProtocolErrorCode.MethodNotAllowed]: 405,
  [ProtocolErrorCode.RequestTimeout]: 408,
  [ProtocolErrorCode.ExpectationFailed]: 417,
  [ProtocolErrorCode.HeadersTooLarge]: 431,
} as const satisfies Record<string, number>;
type ManagerAnswerCode = keyof typeof MANAGER_ERROR_STATUS;

function sendError(reply: FastifyReply, code: ManagerAnswerCode, message: string): FastifyReply {
  return reply
    .code(MANAGER_ERROR_STATUS[code])
    .type('application/json')
    .send({ code, message } satisfies ManagerError);
}

/** The service's typed refusals, by class; anything else is a fastify error or a 500. */
const SERVICE_ERRORS: readonly [abstract new (...args: never[]) => Error, ManagerAnswerCode][] = [
  [BadRequestError, ManagerErrorCode.BadRequest],
  [NotFoundError, ManagerErrorCode.NotFound],
  [ConflictError, ManagerErrorCode.Conflict],
  [UnavailableError, ManagerErrorCode.Unavailable],
  [SnaplinkCleanupRequiredError, ManagerErrorCode.SnaplinkCleanupRequired],
  [AuditNotRetryableError, ManagerErrorCode.AuditNotRetryable],
];

/**
 * Request bodies are a few hundred bytes (`{"action":"evacuate","params":{...}}`); these
 * bounds leave room for any real one and keep a hostile one cheap to refuse.
 */
export const BODY_LIMIT_BYTES = 64 * 1024;
const JSON_LIMITS: JsonLimits = { maxDepth: 16, maxStringBytes: 16 * 1024, maxContainers: 1024 };

/** Builds the fastify app (not listening). `setup` runs first (e.g. to register swagger). */
export async function buildManagerApp(
  options: ManagerAppOptions,
  setup?: (app: FastifyInstance) => Promise<void>,
): Promise<FastifyInstance> {
  const { jobs, metrics, log } = options;
  const app = Fastify({
    logger: false,
    bodyLimit: BODY_LIMIT_BYTES,
    http: NODE_HTTP_OPTIONS,
    clientErrorHandler,
    ajv: STRICT_AJV,
    schemaErrorFormatter,
    // A URL fastify cannot route (bad percent-encoding, over-long parameter).
    frameworkErrors: (err, _req, reply) =>
      sendError(reply, ManagerErrorCode.BadRequest, err.message),
  }).withTypeProvider<TypeBoxTypeProvider>();
  guardProtocolErrors(app.server);
  if (setup) await setup(app);

  app.addHook('onRequest', async (req, reply) => {
    if (lacksRequiredHost(req.raw)) {
      reply.header('connection', 'close');
      return sendError(reply, ManagerErrorCode.BadRequest, 'HTTP/1.1 request without Host');
    }
  });
  if (options.tokens) registerApiAuth(app, options.tokens, sendError);

  // L's rebalancer-adm sends no Content-Type: every body is parsed as JSON, within bounds.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(body as Buffer, JSON_LIMITS));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  const server = `rebalancer-manager ${SERVER_VERSION} (${options.stamp ?? 'no-STAMP'})`;
  app.addHook('onSend', async (_req, reply) => {
    reply.header('server', server);
  });

  app.setErrorHandler((err, req, reply) => {
    for (const [type, code] of SERVICE_ERRORS) {
      if (err instanceof type) return sendError(reply, code, err.message);
    }
    if (err instanceof JsonBodyError) {
      const code =
        err.status === 413 ? ManagerErrorCode.PayloadTooLarge : ManagerErrorCode.BadRequest;
      return sendError(reply, code, `body ${err.message}`);
    }
    const status = (err as { statusCode?: number }).statusCode;
    if (status === 413) {
      return sendError(reply, ManagerErrorCode.PayloadTooLarge, 'request body too large');
    }
    // fastify's own refusals (validation, bad Content-Length, ...): all bad input.
    if (status !== undefined && status >= 400 && status < 500) {
      return sendError(reply, ManagerErrorCode.BadRequest, (err as Error).message);
    }
    log.error({ err, url: req.url, method: req.method }, 'request failed');
    return sendError(reply, ManagerErrorCode.Internal, internalErrorMessage(err));
  });

  app.setNotFoundHandler((req, reply) =>
    sendError(reply, ManagerErrorCode.NotFound, `no route ${req.method} ${req.url}`),
  );

  const routes = managerRoutes;
  app.route({
    ...fastifyRoute(routes.createJob),
    handler: async (req, reply) => {
      metrics.request('evacuate');
      const job = await jobs.create(req.body);
      return reply.type('text/plain').send(`${job.id}\n`);
    },
  });

  app.route({
    ...fastifyRoute(routes.listJobs),
    handler: async () => {
      metrics.request('list_jobs');
      return jobs.list();
    },
  });

  app.route({
    ...fastifyRoute(routes.getJob),
    handler: async (req) => {
      metrics.request('get_job');
      return jobs.status(req.params.uuid);
    },
  });

  app.route({
    ...fastifyRoute(routes.listJobDuplicates),
    handler: async (req) => {
      metrics.request('list_job_duplicates');
      return jobs.duplicates(req.params.uuid, req.query);
    },
  });

  app.route({
    ...fastifyRoute(routes.updateJob),
    handler: async (req, reply) => {
      metrics.request('update_job');
      await jobs.update(req.params.uuid, req.body);
      return reply.code(200).send(null);
    },
  });

  app.route({
    ...fastifyRoute(routes.retryJob),
    handler: async (req, reply) => {
      metrics.request('retry_job');
      const job = await jobs.retry(req.params.uuid);
      return reply.type('text/plain').send(`${job.id}\n`);
    },
  });

  app.route({
    ...fastifyRoute(routes.cancelJob),
    handler: async (req) => {
      metrics.request('cancel_job');
      const job = await jobs.cancel(req.params.uuid);
      return jobs.status(job.id);
    },
  });

  app.route({
    ...fastifyRoute(routes.getJobPlan),
    handler: async (req) => {
      metrics.request('get_job_plan');
      return jobs.plan(req.params.uuid);
    },
  });

  app.route({
    ...fastifyRoute(routes.pauseJob),
    handler: async (req) => {
      metrics.request('pause_job');
      const job = await jobs.pause(req.params.uuid);
      return jobs.status(job.id);
    },
  });

  app.route({
    ...fastifyRoute(routes.resumeJob),
    handler: async (req) => {
      metrics.request('resume_job');
      const job = await jobs.resume(req.params.uuid);
      return jobs.status(job.id);
    },
  });

  app.route({
    ...fastifyRoute(routes.getSharkAudit),
    handler: async (req) => jobs.sharkAudit(req.params.id, req.query),
  });

  registerOrphanRoutes(app, { orphans: options.orphans, sendError });
  registerConsoleRoutes(app, { jobs, metrics, store: options.store, fleet: options.fleet });
  registerJobDataRoutes(app, { data: options.jobData, metrics, log });
  registerConsoleUi(app);

  app.route({
    ...fastifyRoute(routes.metrics),
    handler: async (_req, reply) => reply.type(metrics.contentType).send(await metrics.text()),
  });

  return app;
}
