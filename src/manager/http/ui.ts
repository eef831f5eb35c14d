/**
 * The web console's files under /ui (issue 17): the page, its script and stylesheet that
 * `npm run build` writes to dist/ui from src/ui. The console talks to the same public API as
 * rebalancer-adm; this only serves its files. Names are taken from a flat directory and must
 * look like file names (no `/`, no leading dot), so no request can reach outside it.
 */
import { readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { type ManagerError, ManagerErrorCode } from '../../api/manager.ts';
import { PACKAGE_ROOT } from '../../package-info.ts';

interface ConsoleUiOptions {
  /** The built console; default dist/ui of this package. */
  dir?: string;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

const FILE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

/**
 * Scripts, styles, connections and images from the manager only: the console needs nothing
 * else, and an injected script could not load or send anything elsewhere.
 */
const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

function refuse(reply: FastifyReply, status: 404 | 503, body: ManagerError): FastifyReply {
  return reply.code(status).type('application/json').send(body);
}

/** A missing file, or a directory in its place, is "not there"; EACCES or EIO is a real error. */
function missing(err: unknown): undefined {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return undefined;
  throw err;
}

async function isDirectory(path: string): Promise<boolean> {
  const found = await stat(path).catch(missing);
  return found?.isDirectory() ?? false;
}

/** Registers `/`, `/ui` (redirects to `/ui/`) and `/ui/<file>` on the manager's app. */
export function registerConsoleUi(app: FastifyInstance, options: ConsoleUiOptions = {}): void {
  const dir = options.dir ?? join(PACKAGE_ROOT, 'dist', 'ui');
  const toConsole = (_req: unknown, reply: FastifyReply) => reply.redirect('/ui/', 302);
  app.get('/', toConsole);
  app.get('/ui', toConsole);
  app.get<{ Params: { '*': string } }>('/ui/*', async (req, reply) => {
    // Checked on each request: a console built after the manager started is served.
    if (!(await isDirectory(dir))) {
      return refuse(reply, 503, {
        code: ManagerErrorCode.Unavailable,
        message: 'console not built: run npm run build',
      });
    }
    const name = req.params['*'] === '' ? 'index.html' : req.params['*'];
    const type = FILE_NAME.test(name) ? CONTENT_TYPES[extname(name)] : undefined;
    const body = type && (await readFile(join(dir, name)).catch(missing));
    if (!type || !body) {
      return refuse(reply, 404, {
        code: ManagerErrorCode.NotFound,
        message: `no console file ${req.url}`,
      });
    }
    reply.type(type).header('cache-control', 'no-cache');
    reply.header('x-content-type-options', 'nosniff');
    if (name === 'index.html') reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
    return reply.send(body);
  });
}
