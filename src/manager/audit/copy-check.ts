/**
 * Whether a copy an object record names exists on its shark: a HEAD of the copy's path on that
 * shark's mako (`http://<storage id>`, port 80, through the manager's host aliases) answering
 * 200 with the record's size, or with `deep` a GET whose bytes have the record's MD5. A 404 or
 * another size or MD5 is `missing`; a mako that does not answer (refused, reset, timed out, a
 * 5xx or any other status) is asked again, and after that the copy is `unverified`: never
 * present without proof.
 *
 * On node:http, not undici: undici 7 can crash the process when a server closes a connection
 * under a paused body (see src/agent/download/client.ts), which every mako does.
 */
import { createHash } from 'node:crypto';
import { Agent, type IncomingMessage, request } from 'node:http';
import { backoff, RetriesExhaustedError, retry } from '../../async/index.ts';
import { RebalancerError } from '../../errors.ts';
import { type HostAliases, isStorageId, resolveAddress } from '../../manta/index.ts';

export type CopyState = 'present' | 'missing' | 'unverified';

/** One copy to look for: where, and what the record says it holds. */
export interface CopyProbe {
  storageId: string;
  /** The object's path on a mako (src/manta/paths.ts). */
  path: string;
  contentLength: number;
  contentMD5: string;
}

export interface CopyChecker {
  check(probe: CopyProbe, deep: boolean, signal: AbortSignal): Promise<CopyState>;
  close(): Promise<void>;
}

export interface MakoCopyCheckerOptions {
  aliases: HostAliases;
  /** Attempts per copy, the first included (default 3). */
  attempts?: number;
  /** The wait after the first failed attempt, doubling (default 500 ms, at most 5 s). */
  retryDelayMs?: number;
  /** Longest silence of a mako during one request (default 30 s). */
  timeoutMs?: number;
  /** Connections to one mako at once (default 16). */
  connectionsPerMako?: number;
  /**
   * After a mako used up its attempts, it is asked once per copy for this long (default 30 s):
   * a dead mako costs one refused connection per copy, not a full round of retries.
   */
  downForMs?: number;
}

/** A mako that did not give an answer proving presence or absence. */
export class MakoUnansweredError extends RebalancerError {
  override readonly name = 'MakoUnansweredError';
  readonly code = 'mako_unanswered';
}

const MAX_KNOWN_MAKOS = 10_000;

export class MakoCopyChecker implements CopyChecker {
  readonly #agent: Agent;
  readonly #attempts: number;
  readonly #delay: (attempt: number) => number;
  readonly #timeoutMs: number;
  readonly #downForMs: number;
  /** Storage id -> until when it counts as down. */
  readonly #down = new Map<string, number>();
  /** Storage id -> where its mako answers (null: not a storage id this manager may ask). */
  readonly #makos = new Map<string, { host: string; port: number } | null>();

  constructor(private readonly options: MakoCopyCheckerOptions) {
    this.#agent = new Agent({ keepAlive: true, maxSockets: options.connectionsPerMako ?? 16 });
    this.#attempts = options.attempts ?? 3;
    const initialMs = options.retryDelayMs ?? 500;
    this.#delay = backoff({ initialMs, maxMs: Math.max(initialMs, 5000), jitter: 0.2 });
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#downForMs = options.downForMs ?? 30_000;
  }

  async check(probe: CopyProbe, deep: boolean, signal: AbortSignal): Promise<CopyState> {
    const mako = this.#makoOf(probe.storageId);
    // Not a storage id this manager may ask: nothing can prove the copy is there.
    if (mako === null) return 'unverified';
    const downUntil = this.#down.get(probe.storageId);
    const down = downUntil !== undefined && downUntil > Date.now();
    try {
      const state = await retry(() => this.#ask(mako, probe, deep, signal), {
        attempts: down ? 1 : this.#attempts,
        delay: this.#delay,
        retryable: (err) => err instanceof MakoUnansweredError,
        signal,
      });
      this.#down.delete(probe.storageId);
      return state;
    } catch (err) {
      if (!(err instanceof RetriesExhaustedError)) throw err;
      this.#down.set(probe.storageId, Date.now() + this.#downForMs);
      return 'unverified';
    }
  }

  /** `http://<storage id>` on port 80, through the aliases; the id validated once. */
  #makoOf(storageId: string): { host: string; port: number } | null {
    let mako = this.#makos.get(storageId);
    if (mako === undefined) {
      mako = isStorageId(storageId) ? resolveAddress(storageId, 80, this.options.aliases) : null;
      // A fleet has a bounded number of sharks; records naming junk ids must not grow this.
      if (this.#makos.size >= MAX_KNOWN_MAKOS) this.#makos.clear();
      this.#makos.set(storageId, mako);
    }
    return mako;
  }

  #ask(
    mako: { host: string; port: number },
    probe: CopyProbe,
    deep: boolean,
    signal: AbortSignal,
  ): Promise<CopyState> {
    return new Promise((resolve, reject) => {
      const method = deep ? 'GET' : 'HEAD';
      // The path is built from validated ids (src/manta/paths.ts): nothing to escape.
      const req = request({ ...mako, path: probe.path, method, agent: this.#agent, signal });
      const unanswered = (why: string, cause?: unknown) =>
        new MakoUnansweredError(`${method} ${probe.storageId}${probe.path}: ${why}`, { cause });
      req.setTimeout(this.#timeoutMs, () => {
        req.destroy(unanswered(`no answer for ${this.#timeoutMs} ms`));
      });
      req.once('error', (err) => {
        reject(signal.aborted ? signal.reason : unanswered(err.message, err));
      });
      req.once('response', (res) => {
        if (res.statusCode === 404) {
          res.resume();
          resolve('missing');
        } else if (res.statusCode !== 200) {
          res.resume();
          reject(unanswered(`status ${res.statusCode}`));
        } else if (!deep) {
          const length = res.headers['content-length'];
          res.resume();
          // No size to compare is no answer: it proves neither presence nor absence.
          if (length === undefined) reject(unanswered('no Content-Length'));
          else resolve(Number(length) === probe.contentLength ? 'present' : 'missing');
        } else {
          digest(res).then(
            ({ md5, bytes }) =>
              resolve(
                bytes === probe.contentLength && md5 === probe.contentMD5 ? 'present' : 'missing',
              ),
            (err: unknown) => reject(signal.aborted ? signal.reason : unanswered('body', err)),
          );
        }
      });
      req.end();
    });
  }

  async close(): Promise<void> {
    this.#agent.destroy();
  }
}

/** MD5 (base64) and length of a body read to its end; a body cut short rejects. */
async function digest(res: IncomingMessage): Promise<{ md5: string; bytes: number }> {
  const hash = createHash('md5');
  let bytes = 0;
  for await (const chunk of res) {
    bytes += (chunk as Buffer).length;
    hash.update(chunk as Buffer);
  }
  if (!res.complete) throw new Error('the body ended before its Content-Length');
  return { md5: hash.digest('base64'), bytes };
}
