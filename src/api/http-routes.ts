/**
 * The shape of a route table (manager-routes.ts, agent-routes.ts): each route of an HTTP API
 * declared once — method, path, operationId, summary, request schemas and a response schema
 * per status. Servers register their routes from it (`fastifyRoute`), so a route cannot be
 * served with another schema than its declared one; clients check every answer against it
 * (`RouteContract`), so an answer of the wrong shape is refused where it arrives, naming the
 * route and the first mismatch, instead of being cast and failing somewhere later.
 */
import type { Static, TSchema } from 'typebox';
import { Compile } from 'typebox/compile';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface RouteDecl {
  readonly method: HttpMethod;
  /** In fastify's form: `/jobs/:uuid`. */
  readonly url: string;
  readonly operationId: string;
  readonly summary: string;
  /** OpenAPI tags; an untagged route is left out of the OpenAPI document (e.g. GET /metrics). */
  readonly tags?: readonly string[];
  readonly params?: TSchema;
  readonly querystring?: TSchema;
  readonly body?: TSchema;
  /** The body of each answer, by status code. */
  readonly response: Readonly<Record<number, TSchema>>;
  /**
   * How a 2xx body is encoded: JSON (the default), or plain text, checked as a string
   * against its schema (the manager's `<uuid>\n` job-id answers, Prometheus text).
   */
  readonly successEncoding?: 'json' | 'text';
}

const SCHEMA_KEYS = [
  'summary',
  'operationId',
  'tags',
  'params',
  'querystring',
  'body',
  'response',
] as const;
type SchemaKey = (typeof SCHEMA_KEYS)[number];
export type RouteSchema<R extends RouteDecl> = Pick<R, Extract<keyof R, SchemaKey>>;

/** fastify's route options (method, url, schema) for a declared route; the server adds the handler. */
export function fastifyRoute<R extends RouteDecl>(
  route: R,
): { method: R['method']; url: R['url']; schema: RouteSchema<R> } {
  const schema: Record<string, unknown> = {};
  for (const key of SCHEMA_KEYS) {
    if (route[key] !== undefined) schema[key] = route[key];
  }
  return { method: route.method, url: route.url, schema: schema as RouteSchema<R> };
}

/** `/jobs/:uuid` + `{uuid}` → `/jobs/<uuid, percent-encoded>`. */
export function routePath(route: RouteDecl, params: Readonly<Record<string, string>> = {}): string {
  return route.url.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`${route.operationId}: no value for :${name}`);
    return encodeURIComponent(value);
  });
}

/** The route as people name it: `get_job (GET /jobs/{uuid})`. */
export function routeName(route: RouteDecl): string {
  return `${route.operationId} (${route.method} ${route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}')})`;
}

/** Where an answer first departs from its schema: a JSON pointer (`/results/Total`) and why. */
export interface Mismatch {
  readonly path: string;
  readonly message: string;
}

export type Checked<T> = { ok: true; value: T } | { ok: false; mismatch: Mismatch };

interface Check {
  Check(value: unknown): boolean;
  Errors(value: unknown): readonly { instancePath: string; message: string }[];
}

type Declared<R extends RouteDecl> = keyof R['response'] & number;
type Answer<R extends RouteDecl, S extends Declared<R>> = R['response'][S] extends TSchema
  ? Static<R['response'][S]>
  : never;

/** A declared route's answers, checked by compiled TypeBox validators (one per status). */
export class RouteContract<R extends RouteDecl> {
  readonly name: string;
  private readonly checks = new Map<number, Check>();

  constructor(readonly route: R) {
    this.name = routeName(route);
    for (const [status, schema] of Object.entries(route.response)) {
      this.checks.set(Number(status), Compile(schema));
    }
  }

  declares(status: number): status is Declared<R> {
    return this.checks.has(status);
  }

  /** A 2xx answer: it must be the declared 200 and match its schema. */
  checkSuccess(
    this: RouteContract<R & { response: { 200: TSchema } }>,
    status: number,
    text: string,
  ): Checked<Answer<R & { response: { 200: TSchema } }, 200>> {
    if (status !== 200) {
      return { ok: false, mismatch: { path: '', message: `status ${status} is not declared` } };
    }
    return this.check(200, text);
  }

  /**
   * Decodes an answer's body for `status` and checks it against the declared schema. An
   * empty JSON body reads as `null` (L answers PUT /jobs/{uuid} with an empty 200).
   */
  check<S extends Declared<R>>(status: S, text: string): Checked<Answer<R, S>> {
    const check = this.checks.get(status);
    if (check === undefined) {
      return { ok: false, mismatch: { path: '', message: `status ${status} is not declared` } };
    }
    let value: unknown = text;
    if (!(this.route.successEncoding === 'text' && status >= 200 && status < 300)) {
      try {
        value = text.trim() === '' ? null : JSON.parse(text);
      } catch (err) {
        return {
          ok: false,
          mismatch: { path: '', message: `not JSON: ${(err as Error).message}` },
        };
      }
    }
    if (check.Check(value)) return { ok: true, value: value as Answer<R, S> };
    const [first] = check.Errors(value);
    return {
      ok: false,
      mismatch: { path: first?.instancePath ?? '', message: first?.message ?? 'is invalid' },
    };
  }
}
