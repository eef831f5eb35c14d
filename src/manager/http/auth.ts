/**
 * The manager API's bearer tokens (issue 17). `api_token` guards every mutating request (any
 * method but GET and HEAD); `api_token_read`, when set, guards reads too, which then take it
 * or `api_token`. `/metrics` is a read like any other (Prometheus can send a bearer token).
 * The console's static files under `/ui` and `GET /` hold no data and stay open: the console
 * asks for the token and sends it itself. The tokens are read per request, so a SIGUSR1
 * reload that rotates them applies to the next request.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { ManagerErrorCode } from '../../api/manager.ts';

export interface ApiTokens {
  /** Required on mutating requests; absent, they are open. */
  readonly api: string | undefined;
  /** Required (or `api`) on reads; absent, they are open. */
  readonly read: string | undefined;
}

/** The challenge of every 401 (RFC 6750). */
export const BEARER_CHALLENGE = 'Bearer realm="rebalancer-manager"';

const READS: ReadonlySet<string> = new Set(['GET', 'HEAD']);

/** Never guarded: the console's assets and its entry point carry no data. */
function unguarded(method: string, path: string): boolean {
  return path === '/ui' || path.startsWith('/ui/') || (READS.has(method) && path === '/');
}

/** Fixed-length digests: timingSafeEqual needs equal lengths, and the length stays secret. */
function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** The token of an `Authorization: Bearer <token>` header (node trims the value's ends). */
function bearerOf(header: string | undefined): string | undefined {
  return header === undefined ? undefined : /^Bearer[ \t]+(.+)$/i.exec(header)?.[1];
}

/**
 * Why `method url` with this Authorization header is refused (the 401's message, which names
 * the token needed and never repeats one), or `undefined` when it may pass.
 */
export function refusal(
  method: string,
  url: string,
  authorization: string | undefined,
  tokens: ApiTokens,
): string | undefined {
  const path = url.split('?', 1)[0] ?? url;
  const read = READS.has(method);
  if (unguarded(method, path) || (read ? tokens.read : tokens.api) === undefined) return undefined;
  const accepted = (read ? [tokens.read, tokens.api] : [tokens.api]).filter(
    (t): t is string => t !== undefined,
  );
  const given = bearerOf(authorization);
  if (given !== undefined) {
    const d = digest(given);
    // Every candidate compared, so the time does not tell which one matched.
    let ok = false;
    for (const token of accepted) ok = timingSafeEqual(d, digest(token)) || ok;
    if (ok) return undefined;
  }
  const needed = read ? "the manager's api_token_read (or api_token)" : "the manager's api_token";
  const what = given === undefined ? 'no bearer token' : 'a wrong bearer token';
  return `${what}: ${method} ${path} needs ${needed} as "Authorization: Bearer <token>"`;
}

/** The one error answer of the server, with its status from the server's code table. */
export type SendUnauthorized = (
  reply: FastifyReply,
  code: typeof ManagerErrorCode.Unauthorized,
  message: string,
) => FastifyReply;

/** Adds the check as an onRequest hook: before a body is read, and for unknown paths too. */
export function registerApiAuth(
  app: FastifyInstance,
  tokens: () => ApiTokens,
  sendError: SendUnauthorized,
): void {
  app.addHook('onRequest', async (req, reply) => {
    const message = refusal(req.method, req.url, req.headers.authorization, tokens());
    if (message === undefined) return;
    reply.header('www-authenticate', BEARER_CHALLENGE);
    return sendError(reply, ManagerErrorCode.Unauthorized, message);
  });
}
