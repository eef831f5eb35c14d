/** A tiny HTTP client for the stand-in tests: keeps partial bodies and transport errors. */

import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'node:http';
import { connect } from 'node:net';

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** Set when the connection failed after the response head arrived. */
  error?: NodeJS.ErrnoException;
}

export function send(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    body?: Buffer | string;
    timeoutMs?: number;
  } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: options.method ?? 'GET',
      headers: options.headers,
      agent: false,
    });
    // A deadline for the whole exchange, like the agent's download timeout.
    let timedOut: NodeJS.ErrnoException | undefined;
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = new Error('client timeout');
            timedOut.code = 'CLIENT_TIMEOUT';
            req.destroy(timedOut);
          }, options.timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(timedOut ?? err);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let settled = false;
      const finish = (error?: NodeJS.ErrnoException) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (timedOut) {
          reject(timedOut);
          return;
        }
        const reply: Reply = {
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks),
        };
        if (error) reply.error = error;
        resolve(reply);
      };
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => finish());
      res.on('error', (err: NodeJS.ErrnoException) => finish(err));
      res.on('aborted', () => {
        const err: NodeJS.ErrnoException = new Error('aborted');
        err.code = 'ECONNRESET';
        finish(err);
      });
    });
    req.end(options.body);
  });
}

/** Sends a request line verbatim (no client-side path normalisation); returns the status. */
export function rawStatus(
  port: number,
  target: string,
  method = 'GET',
  body = '',
): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(
        `${method} ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
    });
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      text += d;
    });
    socket.on('error', reject);
    socket.on('close', () => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      if (m) resolve(Number(m[1]));
      else reject(new Error(`no status line in ${JSON.stringify(text.slice(0, 100))}`));
    });
  });
}
