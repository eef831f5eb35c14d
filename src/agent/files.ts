/**
 * The agent's file routes (src/api/agent-files.ts): `GET /files` pages through the object
 * files under the object root, `POST /files/delete` deletes some of them. Both answer 403
 * `AuthRequired` unless `server.auth_token` is configured — a route that deletes files is never
 * open — and, when it is, the server's bearer-token check (401) has run before them.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { AgentErrorCode } from '../api/agent.ts';
import { FILES_PAGE_DEFAULT, FILES_PAGE_MAX } from '../api/agent-files.ts';
import { agentRoutes } from '../api/agent-routes.ts';
import { fastifyRoute } from '../api/http-routes.ts';
import type { Logger } from '../log/index.ts';
import { parseObjectPath } from '../manta/index.ts';
import { BadFilePathError, deleteObjectFiles, resolveObjectFiles } from './files-delete.ts';
import { listObjectFiles } from './files-walk.ts';
import { DirectoryWindows } from './files-windows.ts';
import type { AgentMetrics } from './metrics.ts';

export type FileRouteRefusal =
  | typeof AgentErrorCode.AuthRequired
  | typeof AgentErrorCode.BadRequest;

export interface FileRoutesOptions {
  readonly objectRoot: string;
  /** Whether `server.auth_token` is set: without one, both routes answer 403. */
  readonly authConfigured: boolean;
  readonly metrics: AgentMetrics;
  readonly log: Logger;
  /** The server's one error answer (status from its code table). */
  readonly sendError: (
    reply: FastifyReply,
    code: FileRouteRefusal,
    message: string,
    field?: string,
  ) => FastifyReply;
}

export function registerFileRoutes(instance: FastifyInstance, options: FileRoutesOptions): void {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();
  const { objectRoot, metrics, log, sendError } = options;
  const windows = new DirectoryWindows();
  const requireAuth = async (_req: unknown, reply: FastifyReply) => {
    if (options.authConfigured) return;
    metrics.requestError('unauthorized');
    return sendError(
      reply,
      AgentErrorCode.AuthRequired,
      'file routes need server.auth_token to be configured on this agent',
    );
  };
  const badRequest = (reply: FastifyReply, message: string, field: string) => {
    metrics.requestError('bad_request');
    return sendError(reply, AgentErrorCode.BadRequest, message, field);
  };

  app.route({
    ...fastifyRoute(agentRoutes.listFiles),
    onRequest: requireAuth,
    handler: async (req, reply) => {
      metrics.request('GET');
      const limit = req.query.limit === undefined ? FILES_PAGE_DEFAULT : Number(req.query.limit);
      if (limit > FILES_PAGE_MAX) {
        return badRequest(reply, `limit: at most ${FILES_PAGE_MAX}`, 'limit');
      }
      const { after } = req.query;
      if (after !== undefined && parseObjectPath(after) === undefined) {
        return badRequest(reply, 'after: not a v1 or v2 object path', 'after');
      }
      return listObjectFiles(objectRoot, windows, after, limit);
    },
  });

  app.route({
    ...fastifyRoute(agentRoutes.deleteFiles),
    onRequest: requireAuth,
    handler: async (req, reply) => {
      metrics.request('POST');
      const { files } = req.body;
      let absolute: string[];
      try {
        absolute = resolveObjectFiles(objectRoot, files);
      } catch (err) {
        if (err instanceof BadFilePathError) return badRequest(reply, err.message, err.field);
        throw err;
      }
      const results = await deleteObjectFiles(files, absolute);
      const counts: Record<string, number> = {};
      for (const r of results) counts[r.outcome] = (counts[r.outcome] ?? 0) + 1;
      log.info({ requested: files.length, ...counts }, 'object files deleted');
      return { results };
    },
  });
}
