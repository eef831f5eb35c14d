/**
 * The agent's HTTP API (agent.md §2–§3), in L's JSON encoding. These schemas feed the
 * fastify routes and the generated openapi/agent.json; the manager imports the types.
 */
import { type Static, Type } from 'typebox';
import { type Task, TaskInput, Task as TaskSchema } from './common.ts';

/** Canonical assignment ids are lower-case hyphenated UUIDs. */
export const AssignmentId = Type.String({
  title: 'AssignmentId',
  description: 'assignment UUID (answered in lower-case hyphenated form)',
  pattern: '^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$',
});

/**
 * `POST /assignments` body, object form. L also accepts the positional form `[id, tasks]`,
 * and so do we; task `status` may be in L or D encoding and is ignored (every task runs).
 */
export const AssignmentPayload = Type.Object(
  { id: AssignmentId, tasks: Type.Array(TaskInput) },
  {
    title: 'AssignmentPayload',
    description:
      'Also accepted as the positional array ["<id>", [Task, ...]]. Unknown keys are refused. ' +
      'Every source must be N.stor.<domain_name> or named by a host alias.',
    additionalProperties: false,
  },
);
export interface AssignmentPayload {
  id: string;
  tasks: Task[];
}

/** `"Scheduled"`, `"Running"`, `{"Complete": null}` or `{"Complete": [failed Task, ...]}`. */
export const AgentAssignmentState = Type.Union(
  [
    Type.Literal('Scheduled'),
    Type.Literal('Running'),
    Type.Object(
      { Complete: Type.Union([Type.Null(), Type.Array(TaskSchema)]) },
      { additionalProperties: false },
    ),
  ],
  { title: 'AgentAssignmentState' },
);
export type AgentAssignmentState = 'Scheduled' | 'Running' | { Complete: Task[] | null };

/** Field order as L serialises it: state, failed, complete, total. */
export const AgentAssignmentStats = Type.Object(
  {
    state: AgentAssignmentState,
    failed: Type.Integer({ minimum: 0, description: 'failed tasks' }),
    complete: Type.Integer({ minimum: 0, description: 'processed tasks, failed ones included' }),
    total: Type.Integer({ minimum: 0 }),
  },
  { title: 'AgentAssignmentStats' },
);
export interface AgentAssignmentStats {
  state: AgentAssignmentState;
  failed: number;
  complete: number;
  total: number;
}

export const Assignment = Type.Object(
  { uuid: Type.String(), stats: AgentAssignmentStats },
  { title: 'Assignment' },
);
export interface Assignment {
  uuid: string;
  stats: AgentAssignmentStats;
}

export const AssignmentParams = Type.Object({ uuid: Type.String() });
export type AssignmentParams = Static<typeof AssignmentParams>;

/** Error body of every non-2xx answer (L sent empty bodies; clients decide on the code). */
export const ErrorBody = Type.Object(
  {
    code: Type.String({ description: 'machine-readable error kind' }),
    message: Type.String(),
    field: Type.Optional(Type.String({ description: 'the offending input field, when known' })),
  },
  { title: 'Error' },
);
export interface ErrorBody {
  code: string;
  message: string;
  field?: string;
}

/** Error codes used in ErrorBody.code. */
export const AgentErrorCode = {
  BadRequest: 'BadRequest',
  Unauthorized: 'Unauthorized',
  Forbidden: 'Forbidden',
  /** A file route on an agent without `server.auth_token`: deleting files is never open. */
  AuthRequired: 'AuthRequired',
  NotFound: 'NotFound',
  Conflict: 'Conflict',
  MethodNotAllowed: 'MethodNotAllowed',
  PayloadTooLarge: 'PayloadTooLarge',
  QueueFull: 'QueueFull',
  Internal: 'InternalError',
  ShuttingDown: 'ShuttingDown',
} as const;
