/**
 * A small real Manta for the audit's tests, in this process: a sandbox Moray shard (Fast RPC
 * over PostgreSQL or PGlite) holding the records, three makos serving their directories over
 * HTTP as `N.stor.audit.test` (through host aliases, as the manager reaches them), and the
 * manager's store. Objects are written as muskie does: a file per copy, then the record.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../../src/log/index.ts';
import type { AuditDeps } from '../../../src/manager/audit/audit.ts';
import { type CopyChecker, MakoCopyChecker } from '../../../src/manager/audit/copy-check.ts';
import { DiscoveryObjectSource } from '../../../src/manager/jobs/evacuate/discovery-source.ts';
import { ManagerStore } from '../../../src/manager/store/index.ts';
import { md5Base64, parseHostAliases } from '../../../src/manta/index.ts';
import { MorayClient } from '../../../src/moray/index.ts';
import { type MakoHandle, startMako } from '../../../src/sandbox/mako/index.ts';
import {
  createMantaBuckets,
  type MorayShard,
  startMorayShard,
} from '../../../src/sandbox/moray/index.ts';
import { objectRecord } from '../../../src/sandbox/seed/record.ts';
import { createTestDatabase, type TestDatabase } from '../../support/database.ts';

export const log = createLogger({ name: 'audit-test', level: 'silent' });
export const DOMAIN = 'audit.test';
export const shark = (n: number): string => `${n}.stor.${DOMAIN}`;
const OWNER = '8b2c4b8e-7d1c-4f3e-9a55-2b7c0c7b6a10';

export interface PutOptions {
  /** The record's copies, by shark number. */
  sharks: readonly number[];
  /** Sharks whose mako gets no file (a copy the record names but nobody holds). */
  without?: readonly number[];
  size?: number;
  /** Under `/<owner>/stor/<dir>` (default `audit`). */
  dir?: string;
}

export interface PutObject {
  key: string;
  objectId: string;
  owner: string;
  content: Buffer;
}

export class AuditFixture {
  private constructor(
    readonly dir: string,
    readonly makos: Map<number, MakoHandle>,
    readonly moray: MorayShard,
    readonly client: MorayClient,
    readonly store: ManagerStore,
    private readonly dbs: TestDatabase[],
    readonly aliases: Record<string, string>,
  ) {}

  static async start(sharks = 3): Promise<AuditFixture> {
    const dir = await mkdtemp(join(tmpdir(), 'audit-'));
    const makos = new Map<number, MakoHandle>();
    const aliases: Record<string, string> = {};
    for (let n = 1; n <= sharks; n++) {
      const mako = await startMako({ root: join(dir, `mako${n}`), log });
      makos.set(n, mako);
      aliases[`${shark(n)}:80`] = `127.0.0.1:${mako.port}`;
    }
    const shardDb = await createTestDatabase();
    await createMantaBuckets(shardDb.db);
    const moray = await startMorayShard({ db: shardDb.db, log, name: `1.moray.${DOMAIN}` });
    const client = new MorayClient({ host: moray.host, port: moray.port, log });
    const storeDb = await createTestDatabase();
    const store = await ManagerStore.open(storeDb.db);
    return new AuditFixture(dir, makos, moray, client, store, [shardDb, storeDb], aliases);
  }

  async stop(): Promise<void> {
    await this.client.close();
    await this.moray.close();
    for (const mako of this.makos.values()) await mako.close();
    for (const db of this.dbs) await db.drop();
    await rm(this.dir, { recursive: true, force: true });
  }

  mako(n: number): MakoHandle {
    const mako = this.makos.get(n);
    if (!mako) throw new Error(`no mako ${n}`);
    return mako;
  }

  /** The file of an object's copy on shark `n`. */
  file(n: number, o: PutObject): string {
    return join(this.mako(n).root, o.owner, o.objectId);
  }

  async put(options: PutOptions): Promise<PutObject> {
    const content = randomBytes(options.size ?? 512);
    const objectId = randomUUID();
    const o: PutObject = { key: '', objectId, owner: OWNER, content };
    for (const n of options.sharks) {
      if (options.without?.includes(n)) continue;
      await mkdir(join(this.mako(n).root, OWNER), { recursive: true });
      await writeFile(this.file(n, o), content);
    }
    const record = objectRecord({
      owner: OWNER,
      dirname: `/${OWNER}/stor/${options.dir ?? 'audit'}`,
      name: randomUUID(),
      objectId,
      contentLength: content.length,
      contentMD5: md5Base64(content),
      sharks: options.sharks.map((n) => ({ datacenter: 'dc1', manta_storage_id: shark(n) })),
      mtime: Date.now(),
    });
    await this.client.putObject('manta', record.key, record);
    o.key = record.key;
    return o;
  }

  async removeCopy(n: number, o: PutObject): Promise<void> {
    await unlink(this.file(n, o));
  }

  /** The same number of bytes, other ones: only an MD5 read tells. */
  async corruptCopy(n: number, o: PutObject): Promise<void> {
    await writeFile(this.file(n, o), Buffer.from(o.content.map((b) => b ^ 0xff)));
  }

  /** The record names `sharks` now (e.g. a copy added on another shark). */
  async setSharks(o: PutObject, sharks: readonly number[]): Promise<void> {
    const current = await this.client.getObject('manta', o.key);
    await this.client.putObject('manta', o.key, {
      ...current.value,
      sharks: sharks.map((n) => ({ datacenter: 'dc1', manta_storage_id: shark(n) })),
    });
  }

  async deleteRecord(o: PutObject): Promise<void> {
    await this.client.delObject('manta', o.key);
  }

  checker(options: { attempts?: number; downForMs?: number } = {}): MakoCopyChecker {
    return new MakoCopyChecker({
      aliases: parseHostAliases(this.aliases),
      attempts: options.attempts ?? 2,
      retryDelayMs: 10,
      timeoutMs: 5000,
      downForMs: options.downForMs ?? 0,
    });
  }

  /** What an audit needs: this shard scanned (small windows: many cursors), these makos. */
  deps(copies: CopyChecker = this.checker(), chunkSize = 1000): AuditDeps {
    return {
      source: new DiscoveryObjectSource(() => [{ shard: 1, mode: 'moray', client: this.client }], {
        chunkSize,
        log,
      }),
      copies,
      concurrency: 8,
    };
  }

  /** A job row for an audit (the audits table hangs off jobs). */
  async auditJob(n: number, deep = false): Promise<string> {
    const job = await this.store.createJob({
      id: randomUUID(),
      action: 'audit',
      params: { from_shark: shark(n), max_objects: null, deep },
      fromShark: { manta_storage_id: shark(n), datacenter: 'dc1' },
      metadataThreads: 1,
    });
    return job.id;
  }
}
