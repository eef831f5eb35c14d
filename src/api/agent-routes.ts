/**
 * Every route of the agent's HTTP API (agent.md §2), declared once: the agent's server
 * registers them from here and the manager's agent client checks every answer against them.
 * Error answers are ErrorBody; L's were empty or plain text (§2.1), so clients decide on the
 * status alone and never refuse an error answer for its body.
 */
import { Type } from 'typebox';
import {
  Assignment,
  AssignmentId,
  AssignmentParams,
  AssignmentPayload,
  ErrorBody,
} from './agent.ts';
import { DeleteFilesAnswer, DeleteFilesBody, FilesPage, FilesQuery } from './agent-files.ts';
import type { HttpMethod, RouteDecl } from './http-routes.ts';

const error = (description: string) => ({ ...ErrorBody, description });
const common = {
  400: error('invalid input; `field` names it'),
  401: error('bearer token required (when authentication is configured)'),
  500: error('internal error'),
} as const;

const tags = ['assignments'] as const;
const fileTags = ['files'] as const;
const authRequired = error('`AuthRequired`: the agent has no server.auth_token configured');

export const agentRoutes = {
  createAssignment: {
    method: 'POST',
    url: '/assignments',
    operationId: 'create_assignment',
    summary: 'Submit an assignment',
    tags,
    body: AssignmentPayload,
    response: {
      200: AssignmentId,
      ...common,
      409: error('assignment id already exists'),
      413: error('body or task count over the limit'),
      503: error('queue full (Retry-After) or shutting down'),
    },
  },
  getAssignment: {
    method: 'GET',
    url: '/assignments/:uuid',
    operationId: 'get_assignment',
    summary: 'Assignment status',
    tags,
    params: AssignmentParams,
    response: { 200: Assignment, ...common, 404: error('unknown assignment') },
  },
  deleteAssignment: {
    method: 'DELETE',
    url: '/assignments/:uuid',
    operationId: 'delete_assignment',
    summary: 'Delete a completed assignment record',
    tags,
    params: AssignmentParams,
    response: {
      200: Type.Null({ description: 'deleted (empty body)' }),
      ...common,
      403: error('assignment not complete yet'),
      404: error('unknown assignment'),
    },
  },
  listFiles: {
    method: 'GET',
    url: '/files',
    operationId: 'list_files',
    summary: 'A page of the object files under the object root, in path order',
    tags: fileTags,
    querystring: FilesQuery,
    response: { 200: FilesPage, ...common, 403: authRequired },
  },
  deleteFiles: {
    method: 'POST',
    url: '/files/delete',
    operationId: 'delete_files',
    summary: 'Delete object files that are still as listed (same size and mtime)',
    tags: fileTags,
    body: DeleteFilesBody,
    response: {
      200: DeleteFilesAnswer,
      ...common,
      403: authRequired,
      413: error('body over the limit'),
    },
  },
} as const satisfies Record<string, RouteDecl>;

/**
 * The methods each declared path does not serve: L's router answers them 405 (a path it does
 * not know at all is 404). HEAD is served wherever GET is.
 */
export function agentMethodsNotAllowed(): { url: string; methods: (HttpMethod | 'PATCH')[] }[] {
  const all: readonly (HttpMethod | 'PATCH')[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
  const served = new Map<string, Set<string>>();
  for (const route of Object.values(agentRoutes)) {
    const methods = served.get(route.url) ?? new Set<string>();
    methods.add(route.method);
    served.set(route.url, methods);
  }
  return [...served].map(([url, methods]) => ({
    url,
    methods: all.filter((m) => !methods.has(m)),
  }));
}
