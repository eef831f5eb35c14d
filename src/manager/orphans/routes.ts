/**
 * The manager's orphan routes (src/api/manager-routes.ts `listOrphans`, `deleteOrphans`),
 * registered by src/manager/http/server.ts. Refusals are answered before the NDJSON body
 * begins: 400 bad input, 409 with the refusal's own code, 503 when the shark's agent cannot
 * list (unreachable, without auth_token, refusing ours).
 */
import { Readable } from 'node:stream';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { fastifyRoute } from '../../api/http-routes.ts';
import { ManagerErrorCode } from '../../api/manager.ts';
import { managerRoutes } from '../../api/manager-routes.ts';
import {
  DEFAULT_GRACE_SECONDS,
  MAX_GRACE_SECONDS,
  type OrphanRefusalCode,
} from '../../api/orphans.ts';
import { BadRequestError, UnavailableError } from '../jobs/errors.ts';
import { AgentFilesError } from './agent-files.ts';
import { OrphansRefusedError } from './errors.ts';
import type { OrphanService } from './service.ts';
import type { NdjsonBody } from './stream.ts';

export interface OrphanRoutesOptions {
  /** Absent in a manager without a real environment (tests of other routes). */
  readonly orphans: OrphanService | undefined;
  /** The server's one error answer (status from its code table). */
  readonly sendError: (
    reply: FastifyReply,
    code: OrphanRefusalCode | typeof ManagerErrorCode.Unavailable,
    message: string,
  ) => FastifyReply;
}

function graceOf(text: string | undefined): number {
  if (text === undefined) return DEFAULT_GRACE_SECONDS;
  const n = Number(text);
  if (n > MAX_GRACE_SECONDS) {
    throw new BadRequestError(`grace_seconds: at most ${MAX_GRACE_SECONDS}`);
  }
  return n;
}

export function registerOrphanRoutes(
  instance: FastifyInstance,
  options: OrphanRoutesOptions,
): void {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();
  const service = (): OrphanService => {
    if (options.orphans === undefined) {
      throw new UnavailableError('this manager has no orphan search configured');
    }
    return options.orphans;
  };
  const answer = async (reply: FastifyReply, body: () => Promise<NdjsonBody>) => {
    try {
      const lines = await body();
      // Whenever the connection ends — the body sent, or the client gone — the search ends.
      reply.raw.once('close', () => void lines.end());
      return reply.type('application/x-ndjson').send(Readable.from(lines));
    } catch (err) {
      if (err instanceof OrphansRefusedError)
        return options.sendError(reply, err.refusal, err.message);
      if (err instanceof AgentFilesError) {
        return options.sendError(reply, ManagerErrorCode.Unavailable, err.message);
      }
      throw err;
    }
  };

  app.route({
    ...fastifyRoute(managerRoutes.listOrphans),
    handler: async (req, reply) =>
      answer(reply, () => service().list(req.params.id, graceOf(req.query.grace_seconds))),
  });

  app.route({
    ...fastifyRoute(managerRoutes.deleteOrphans),
    handler: async (req, reply) =>
      answer(reply, () =>
        service().delete(req.params.id, req.body.grace_seconds ?? DEFAULT_GRACE_SECONDS),
      ),
  });
}
