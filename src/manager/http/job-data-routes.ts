/**
 * The job data routes (issue 19; src/api/manager-routes.ts `listJobObjects`, `deleteJob`),
 * registered by buildManagerApp. `DELETE /jobs/{uuid}` is a change: with api_token set it needs
 * that token (auth.ts guards every method but GET and HEAD).
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { fastifyRoute } from '../../api/http-routes.ts';
import { managerRoutes } from '../../api/manager-routes.ts';
import type { Logger } from '../../log/index.ts';
import { UnavailableError } from '../jobs/errors.ts';
import type { JobDataService } from '../jobs/job-data.ts';
import type { ManagerMetrics } from '../metrics.ts';

export interface JobDataRoutesDeps {
  /** Absent in a manager built without its store (the OpenAPI document, route tables): 503. */
  readonly data: JobDataService | undefined;
  readonly metrics: ManagerMetrics;
  readonly log: Logger;
}

export function registerJobDataRoutes(instance: FastifyInstance, deps: JobDataRoutesDeps): void {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();
  const { metrics } = deps;
  const data = (): JobDataService => {
    if (deps.data === undefined) throw new UnavailableError('this manager has no store');
    return deps.data;
  };

  app.route({
    ...fastifyRoute(managerRoutes.listJobObjects),
    handler: async (req) => {
      metrics.request('list_job_objects');
      return data().objects(req.params.uuid, req.query);
    },
  });

  app.route({
    ...fastifyRoute(managerRoutes.deleteJob),
    handler: async (req) => {
      metrics.request('delete_job');
      const deleted = await data().delete(req.params.uuid);
      // Who deleted what stays in the log once the job's own rows are gone.
      deps.log.info({ job: deleted.deleted, objects: deleted.objects }, 'job deleted');
      return deleted;
    },
  });
}
