/**
 * The bits of stock nginx behaviour a client can observe on a mako: error pages, the static
 * module's ETag, `expires max` headers, and the MIME type map (`default_type
 * application/octet-stream`).
 */
import { type ServerResponse, STATUS_CODES } from 'node:http';
import { extname } from 'node:path';

/** `expires max` in nginx. */
export const EXPIRES_MAX = 'Thu, 31 Dec 2037 23:55:55 GMT';
export const CACHE_CONTROL_MAX = 'max-age=315360000';

/** Status used by the mako nginx fork for a Content-MD5 mismatch (`content_md5_fail_status`). */
export const CONTENT_MD5_MISMATCH = 469;
export const COMPUTED_MD5_HEADER = 'x-joyent-computed-content-md5';

const MIME: Record<string, string> = {
  '.html': 'text/html',
  '.htm': 'text/html',
  '.txt': 'text/plain',
  '.css': 'text/css',
  '.csv': 'text/csv',
  '.json': 'application/json',
  '.js': 'application/javascript',
  '.xml': 'text/xml',
  '.gif': 'image/gif',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.gz': 'application/octet-stream',
};

/** nginx picks the type from the extension; object files (uuids) have none. */
export function contentTypeFor(path: string): string {
  return MIME[extname(path).toLowerCase()] ?? 'application/octet-stream';
}

/** The static module's ETag: `"<hex mtime seconds>-<hex size>"`. */
export function nginxEtag(mtimeMs: number, size: number): string {
  return `"${Math.floor(mtimeMs / 1000).toString(16)}-${size.toString(16)}"`;
}

function reason(status: number): string {
  if (status === CONTENT_MD5_MISMATCH) return 'Checksum Mismatch';
  return STATUS_CODES[status] ?? 'Unknown';
}

/** Answers with nginx's HTML error page for `status` (empty for HEAD). */
export function sendErrorPage(
  res: ServerResponse,
  status: number,
  method: string,
  extraHeaders: Record<string, string> = {},
): void {
  const text = `${status} ${reason(status)}`;
  const body = `<html>\r\n<head><title>${text}</title></head>\r\n<body>\r\n<center><h1>${text}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`;
  res.statusCode = status;
  res.statusMessage = reason(status);
  res.setHeader('content-type', 'text/html');
  res.setHeader('content-length', Buffer.byteLength(body));
  for (const [k, v] of Object.entries(extraHeaders)) res.setHeader(k, v);
  res.end(method === 'HEAD' ? undefined : body);
}
