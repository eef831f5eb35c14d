/**
 * Stand-in-only control endpoints (not part of the real mako):
 *   GET /_sandbox/faults       current faults, normalised
 *   PUT /_sandbox/faults       replace them (JSON, MakoFaultsInput); 400 on bad input
 *   GET /_sandbox/requests     the request log
 *   DELETE /_sandbox/requests  clear it
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type FaultController, faultsToJson, InvalidFaultsError } from './faults.ts';
import type { RequestLog } from './request-log.ts';

export const ADMIN_PREFIX = '/_sandbox/';
const MAX_BODY = 16 << 20;

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.setHeader('content-length', Buffer.byteLength(text));
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function handleAdmin(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  faults: FaultController,
  requests: RequestLog,
): Promise<void> {
  const method = req.method ?? 'GET';
  if (path === '/_sandbox/faults') {
    if (method === 'GET') return sendJson(res, 200, faultsToJson(faults.get()));
    if (method === 'PUT') {
      const text = await readBody(req);
      if (text === undefined)
        return sendJson(res, 413, { code: 'PayloadTooLarge', message: 'body too large' });
      let input: unknown;
      try {
        input = JSON.parse(text);
      } catch (err) {
        return sendJson(res, 400, {
          code: 'BadRequest',
          message: `invalid JSON: ${(err as Error).message}`,
        });
      }
      try {
        return sendJson(res, 200, faultsToJson(faults.set(input)));
      } catch (err) {
        if (err instanceof InvalidFaultsError) {
          return sendJson(res, 400, {
            code: 'BadRequest',
            message: err.message,
            errors: err.errors,
          });
        }
        throw err;
      }
    }
    res.setHeader('allow', 'GET, PUT');
    return sendJson(res, 405, { code: 'MethodNotAllowed', message: `${method} not allowed` });
  }
  if (path === '/_sandbox/requests') {
    if (method === 'GET') return sendJson(res, 200, requests.list());
    if (method === 'DELETE') {
      requests.clear();
      res.statusCode = 204;
      res.end();
      return;
    }
    res.setHeader('allow', 'GET, DELETE');
    return sendJson(res, 405, { code: 'MethodNotAllowed', message: `${method} not allowed` });
  }
  return sendJson(res, 404, { code: 'NotFound', message: `${path} does not exist` });
}
