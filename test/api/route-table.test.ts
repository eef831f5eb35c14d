/**
 * The route tables in src/api are what the servers serve: every declared route is registered
 * by its server with exactly the declared schemas (the very objects, not look-alikes), no
 * other route carries a schema, and the OpenAPI documents list exactly the tagged routes.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { renderDocument } from '../../scripts/openapi.ts';
import { buildAgentApp, type ServerOptions } from '../../src/agent/server.ts';
import { agentRoutes } from '../../src/api/agent-routes.ts';
import type { RouteDecl } from '../../src/api/http-routes.ts';
import { managerRoutes } from '../../src/api/manager-routes.ts';
import type { ManagerAppOptions } from '../../src/manager/http/server.ts';
import { buildManagerApp } from '../../src/manager/http/server.ts';

interface Registered {
  method: string;
  url: string;
  schema: Record<string, unknown> | undefined;
}

/** Builds an app, recording every route it registers (onRoute sees them as declared). */
async function registered(
  build: (setup: (app: FastifyInstance) => Promise<void>) => Promise<FastifyInstance>,
): Promise<{ app: FastifyInstance; routes: Registered[] }> {
  const routes: Registered[] = [];
  const app = await build(async (instance) => {
    instance.addHook('onRoute', (opts: RouteOptions) => {
      for (const method of [opts.method].flat()) {
        routes.push({
          method,
          url: opts.url,
          schema: opts.schema as Record<string, unknown> | undefined,
        });
      }
    });
  });
  await app.ready();
  return { app, routes };
}

const SCHEMA_PARTS = ['params', 'querystring', 'body'] as const;

function assertServesTable(
  table: Record<string, RouteDecl>,
  app: FastifyInstance,
  routes: readonly Registered[],
): void {
  for (const [key, decl] of Object.entries(table)) {
    assert.ok(app.hasRoute({ method: decl.method, url: decl.url }), `${key}: not registered`);
    const found = routes.filter((r) => r.method === decl.method && r.url === decl.url);
    assert.equal(found.length, 1, `${key}: ${decl.method} ${decl.url} registered once`);
    const schema = found[0]!.schema;
    assert.ok(schema, `${key}: registered without a schema`);
    assert.equal(schema.operationId, decl.operationId, key);
    assert.equal(schema.summary, decl.summary, key);
    assert.deepEqual(schema.tags, decl.tags, key);
    for (const part of SCHEMA_PARTS) {
      assert.equal(schema[part], decl[part], `${key}: ${part} is not the declared schema`);
    }
    const response = schema.response as Record<string, unknown>;
    assert.deepEqual(Object.keys(response), Object.keys(decl.response), `${key}: statuses`);
    for (const [status, declared] of Object.entries(decl.response)) {
      assert.equal(
        response[status],
        declared,
        `${key}: response ${status} is not the declared one`,
      );
    }
  }
  // Nothing else is served with a schema: a route outside the table cannot slip in.
  const declared = new Set(Object.values(table).map((d) => `${d.method} ${d.url}`));
  const extra = routes
    .filter((r) => r.method !== 'HEAD' && r.schema !== undefined)
    .map((r) => `${r.method} ${r.url}`)
    .filter((r) => !declared.has(r));
  assert.deepEqual(extra, []);
}

/** `METHOD /path/{param} operationId` for every operation of an OpenAPI document. */
async function documentOperations(service: string): Promise<string[]> {
  const doc = JSON.parse(await renderDocument(service)) as {
    paths: Record<string, Record<string, { operationId: string }>>;
  };
  return Object.entries(doc.paths)
    .flatMap(([path, ops]) =>
      Object.entries(ops).map(([m, op]) => `${m.toUpperCase()} ${path} ${op.operationId}`),
    )
    .sort();
}

function tableOperations(table: Record<string, RouteDecl>): string[] {
  return Object.values(table)
    .filter((d) => (d.tags ?? []).length > 0)
    .map((d) => `${d.method} ${d.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}')} ${d.operationId}`)
    .sort();
}

// Only the route declarations are read: the handlers (and these collaborators) never run.
const unused = {} as never;

describe('the manager serves its route table', () => {
  test('every route of managerRoutes is registered with its declared schemas, and no other', async () => {
    const { app, routes } = await registered((setup) =>
      buildManagerApp(unused as ManagerAppOptions, setup),
    );
    try {
      assertServesTable(managerRoutes, app, routes);
    } finally {
      await app.close();
    }
  });

  test('openapi/manager.json lists exactly the tagged routes of the table', async () => {
    const ops = await documentOperations('manager');
    assert.deepEqual(ops, tableOperations(managerRoutes));
    assert.equal(ops.length, 19);
  });
});

describe('the agent serves its route table', () => {
  const options = {
    rules: { objectRoot: '/manta', idPolicy: 'uuid', allowHostPortSources: false, maxTasks: 1 },
    maxQueued: 1,
    bodyLimitBytes: 1024,
  } as unknown as ServerOptions;

  test('every route of agentRoutes is registered with its declared schemas, and no other', async () => {
    const { app, routes } = await registered((setup) => buildAgentApp(options, setup));
    try {
      assertServesTable(agentRoutes, app, routes);
      // The other methods of a declared path are 405 routes without a schema.
      const notAllowed = routes
        .filter((r) => r.schema === undefined && r.method !== 'HEAD')
        .map((r) => `${r.method} ${r.url}`);
      assert.deepEqual(notAllowed.sort(), [
        'DELETE /assignments',
        'DELETE /files',
        'DELETE /files/delete',
        'GET /assignments',
        'GET /files/delete',
        'PATCH /assignments',
        'PATCH /assignments/:uuid',
        'PATCH /files',
        'PATCH /files/delete',
        'POST /assignments/:uuid',
        'POST /files',
        'PUT /assignments',
        'PUT /assignments/:uuid',
        'PUT /files',
        'PUT /files/delete',
      ]);
    } finally {
      await app.close();
    }
  });

  test('openapi/agent.json lists exactly the tagged routes of the table', async () => {
    assert.deepEqual(await documentOperations('agent'), tableOperations(agentRoutes));
  });
});
