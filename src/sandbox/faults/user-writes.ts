/**
 * A user writing while a job runs, as Manta would: an identical re-upload (new objectId, the
 * same bytes and MD5), an overwrite with new bytes, a metadata-only update (same objectId and
 * copies, new headers, conditional on the etag read, as muskie's metadata PUT) and a delete.
 * Files go to the makos over HTTP first, then the record to the key's Moray shard. New copies
 * never land on the evacuated shark: an operator makes it read-only before evacuating it
 * (manager.md §10.1). Each step is retried until it succeeds (a user retries a 500), so when
 * `write` resolves the user's version is the live one, whatever faults are injected meanwhile.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { RebalancerError } from '../../errors.ts';
import { md5Base64 } from '../../manta/index.ts';
import { EtagConflictError, MorayClient, ObjectNotFoundError } from '../../moray/index.ts';
import type { SandboxDescription, SandboxShark } from '../description.ts';
import { shardIndexOfVnode, vnodeOfKey } from '../ring.ts';
import type { SeededRandom } from '../seed/random.ts';
import type { UserWrittenRecord } from '../verify.ts';

export const USER_WRITE_KINDS = ['reupload', 'overwrite', 'chattr', 'delete'] as const;
export type UserWriteKind = (typeof USER_WRITE_KINDS)[number];

/** The header each user write sets to a fresh value: whose write the live record is. */
export const USER_MARK_HEADER = 'm-user-write';

export class UserWriteError extends RebalancerError {
  override readonly name = 'UserWriteError';
  readonly code = 'UserWriteError';
}

export interface UserWriterOptions {
  /** The storage id being evacuated: read-only, no new copies there. */
  evacuated: string;
  random: SeededRandom;
  /** Each key's current bytes (what the user holds): re-uploads send them again. */
  contents: Map<string, Buffer>;
  /** How long one write keeps retrying before it gives up (default 120 s). */
  deadlineMs?: number;
}

const RETRY_DELAY_MS = 200;
const RPC_TIMEOUT_MS = 10_000;

export class UserWriter {
  readonly #clients: MorayClient[];
  readonly #sharks: SandboxShark[];
  readonly #expected = new Map<string, UserWrittenRecord>();
  readonly counts: Record<UserWriteKind, number> = {
    reupload: 0,
    overwrite: 0,
    chattr: 0,
    delete: 0,
  };
  /** Step attempts that failed and were retried (the faults the user saw). */
  retried = 0;

  constructor(
    sandbox: SandboxDescription,
    private readonly options: UserWriterOptions,
  ) {
    this.#clients = sandbox.shards.map(
      (s) =>
        new MorayClient({ host: s.host, port: s.port, connections: 1, healthCheckIntervalMs: 0 }),
    );
    this.#sharks = sandbox.sharks.filter((s) => s.manta_storage_id !== options.evacuated);
  }

  /** The keys written, and what each must be now. */
  get expected(): ReadonlyMap<string, UserWrittenRecord> {
    return this.#expected;
  }

  async close(): Promise<void> {
    await Promise.all(this.#clients.map((c) => c.close()));
  }

  async write(key: string, kind: UserWriteKind): Promise<void> {
    const deadline = Date.now() + (this.options.deadlineMs ?? 120_000);
    const client = this.#client(key);
    const mark = randomUUID();
    if (kind === 'delete') {
      await this.#retry(deadline, `delete ${key}`, async () => {
        try {
          await client.delObject('manta', key, { timeoutMs: RPC_TIMEOUT_MS });
        } catch (err) {
          // A retry after a delete whose answer was lost.
          if (!(err instanceof ObjectNotFoundError)) throw err;
        }
      });
      this.options.contents.delete(key);
      this.#expected.set(key, { deleted: true });
    } else if (kind === 'chattr') {
      const value = await this.#retry(deadline, `metadata update ${key}`, () =>
        this.#updateHeaders(client, key, mark),
      );
      this.#expect(key, value, mark);
    } else {
      const current = await this.#retry(deadline, `read ${key}`, () =>
        client.getObject('manta', key, { timeoutMs: RPC_TIMEOUT_MS }),
      );
      const held = this.options.contents.get(key);
      if (!held) throw new UserWriteError(`the user holds no bytes of ${key}`);
      const content = kind === 'reupload' ? held : randomBytes(this.options.random.int(1, 16384));
      const objectId = randomUUID();
      const owner = String(current.value.owner);
      const sharks = this.#placement();
      for (const shark of sharks) {
        await this.#retry(deadline, `PUT ${key} to ${shark.manta_storage_id}`, () =>
          putFile(shark, owner, objectId, content),
        );
      }
      const value: Record<string, unknown> = {
        ...current.value,
        objectId,
        etag: objectId,
        contentLength: content.length,
        contentMD5: md5Base64(content),
        sharks: sharks.map((s) => ({
          datacenter: s.datacenter,
          manta_storage_id: s.manta_storage_id,
        })),
        headers: { ...(current.value.headers as object), [USER_MARK_HEADER]: mark },
        mtime: Date.now(),
      };
      // Unconditional, as a user's PUT without If-Match: the same value again on a retry.
      await this.#retry(deadline, `put record ${key}`, () =>
        client.putObject('manta', key, value, { timeoutMs: RPC_TIMEOUT_MS }),
      );
      this.options.contents.set(key, content);
      this.#expect(key, value, mark);
    }
    this.counts[kind]++;
  }

  /** Read, add the header, write back conditionally on the etag read; again on a conflict. */
  async #updateHeaders(
    client: MorayClient,
    key: string,
    mark: string,
  ): Promise<Record<string, unknown>> {
    for (;;) {
      const current = await client.getObject('manta', key, { timeoutMs: RPC_TIMEOUT_MS });
      const headers = (current.value.headers ?? {}) as Record<string, unknown>;
      // An earlier attempt committed but its answer was lost.
      if (headers[USER_MARK_HEADER] === mark) return current.value;
      const value = { ...current.value, headers: { ...headers, [USER_MARK_HEADER]: mark } };
      try {
        await client.putObject('manta', key, value, {
          etag: current._etag,
          timeoutMs: RPC_TIMEOUT_MS,
        });
        return value;
      } catch (err) {
        if (!(err instanceof EtagConflictError)) throw err;
      }
    }
  }

  #expect(key: string, value: Record<string, unknown>, mark: string): void {
    this.#expected.set(key, {
      deleted: false,
      objectId: String(value.objectId),
      owner: String(value.owner),
      contentMD5: String(value.contentMD5),
      contentLength: Number(value.contentLength),
      sharks: (value.sharks as { manta_storage_id: string }[]).map((s) => s.manta_storage_id),
      headers: { [USER_MARK_HEADER]: mark },
    });
  }

  /** Two copies in two datacenters when there are two, as Manta places them. */
  #placement(): SandboxShark[] {
    const [first, ...rest] = this.options.random.sample(this.#sharks, this.#sharks.length);
    if (!first) throw new UserWriteError('no writable shark');
    const second = rest.find((s) => s.datacenter !== first.datacenter) ?? rest[0];
    return second ? [first, second] : [first];
  }

  #client(key: string): MorayClient {
    return this.#clients[shardIndexOfVnode(vnodeOfKey(key), this.#clients.length)] as MorayClient;
  }

  async #retry<T>(deadline: number, what: string, step: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        return await step();
      } catch (err) {
        if (Date.now() > deadline) {
          throw new UserWriteError(`user write gave up: ${what}: ${(err as Error).message}`, {
            cause: err,
          });
        }
        this.retried++;
        await sleep(RETRY_DELAY_MS);
      }
    }
  }
}

/** A PUT to the mako, as muskie streams an object to each chosen storage node. */
async function putFile(
  shark: SandboxShark,
  owner: string,
  objectId: string,
  content: Buffer,
): Promise<void> {
  const res = await fetch(`${shark.mako_url}/${owner}/${objectId}`, {
    method: 'PUT',
    body: content,
    headers: { 'content-md5': md5Base64(content), 'content-type': 'application/octet-stream' },
    signal: AbortSignal.timeout(RPC_TIMEOUT_MS),
  });
  await res.arrayBuffer();
  if (res.status !== 201 && res.status !== 204) {
    throw new UserWriteError(`PUT ${shark.mako_url}/${owner}/${objectId}: ${res.status}`);
  }
}
