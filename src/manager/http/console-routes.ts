/**
 * The read routes the web console needs (issue 17; src/api/manager-routes.ts `listSharks`,
 * `listJobEvents`, `getJobHistory`, `getJobActivity`), registered by buildManagerApp. Every
 * one only reads: 400 bad input (a UUID or a query out of its pattern), 404 an unknown job,
 * 503 when this manager was built without what the route reads.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { JobEventList } from '../../api/console.ts';
import { fastifyRoute } from '../../api/http-routes.ts';
import { managerRoutes } from '../../api/manager-routes.ts';
import { type FleetSource, readFleet } from '../fleet.ts';
import { jobActivity } from '../jobs/activity.ts';
import { UnavailableError } from '../jobs/errors.ts';
import { jobHistory } from '../jobs/history.ts';
import type { JobService } from '../jobs/service.ts';
import type { ManagerMetrics } from '../metrics.ts';
import type { ManagerStore } from '../store/index.ts';

export interface ConsoleRoutesDeps {
  /** For the job routes' 400 (a malformed UUID) and 404 (an unknown job). */
  readonly jobs: JobService;
  readonly metrics: ManagerMetrics;
  /** Absent in a manager built without its store (the OpenAPI document, route tables). */
  readonly store: ManagerStore | undefined;
  /** storinfo and the placement settings; absent: `GET /sharks` answers 503. */
  readonly fleet: FleetSource | undefined;
}

const DEFAULT_EVENTS_LIMIT = 200;
const DEFAULT_HISTORY_POINTS = 300;

export function registerConsoleRoutes(instance: FastifyInstance, deps: ConsoleRoutesDeps): void {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();
  const routes = managerRoutes;
  const { jobs, metrics } = deps;
  const store = (): ManagerStore => {
    if (deps.store === undefined) throw new UnavailableError('this manager has no store');
    return deps.store;
  };

  app.route({
    ...fastifyRoute(routes.listSharks),
    handler: async () => {
      metrics.request('list_sharks');
      if (deps.fleet === undefined) {
        throw new UnavailableError('this manager has no storinfo configured');
      }
      return readFleet(deps.fleet, store());
    },
  });

  app.route({
    ...fastifyRoute(routes.listJobEvents),
    handler: async (req): Promise<JobEventList> => {
      metrics.request('list_job_events');
      const job = await jobs.get(req.params.uuid);
      // The query's patterns bound both numbers (src/api/console.ts).
      const after = req.query.after === undefined ? 0 : Number(req.query.after);
      const limit = req.query.limit === undefined ? DEFAULT_EVENTS_LIMIT : Number(req.query.limit);
      const events = await store().listJobEvents(job.id, after, limit);
      return {
        events: events.map((e) => ({
          seq: e.seq,
          at: e.at.toISOString(),
          kind: e.kind,
          detail: e.detail,
        })),
      };
    },
  });

  app.route({
    ...fastifyRoute(routes.getJobHistory),
    handler: async (req) => {
      metrics.request('get_job_history');
      const job = await jobs.get(req.params.uuid);
      const points =
        req.query.points === undefined ? DEFAULT_HISTORY_POINTS : Number(req.query.points);
      return jobHistory(store(), job.id, points);
    },
  });

  app.route({
    ...fastifyRoute(routes.getJobActivity),
    handler: async (req) => {
      metrics.request('get_job_activity');
      const job = await jobs.get(req.params.uuid);
      return jobActivity(store(), job.id, metrics.metadataBudgetReadings());
    },
  });
}
