/**
 * Freshly initialised PGlite data directories to copy, so each sandbox service on PGlite starts
 * from one instead of running initdb (and the manager its migrations). initdb inside PGlite's
 * WebAssembly took 6.6 s on the 2-core machine under load, copying the result 0.2-0.9 s; the
 * manager's migrations on PGlite 1.2 s, finding them applied 0.02 s. A sandbox runs five
 * PGlite databases (two Moray shards, two buckets-mdapi shards, the manager), all at once.
 *
 * A template is made once per PGlite version (and, for a prepared one, per its key: the
 * manager's migrations), in the system's temporary directory, by opening PGlite on an empty
 * directory and closing it cleanly: a stopped cluster, which PostgreSQL allows to be copied
 * file by file. It holds no data, only what initdb and the preparation write; the service
 * still runs its own start-up (migrations included) over the copy, finding nothing to do.
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Database } from '../db/index.ts';
import { PgliteDatabase } from '../db/pglite.ts';
import { RebalancerError } from '../errors.ts';
import { MIGRATIONS, migrate } from '../manager/store/index.ts';

/** What a prepared template adds to a bare cluster; `key` changes whenever `prepare` would. */
export interface TemplatePreparation {
  readonly name: string;
  readonly key: string;
  prepare(db: Database): Promise<void>;
}

export class PgliteTemplateError extends RebalancerError {
  override readonly name = 'PgliteTemplateError';
  readonly code = 'pglite_template_failed';
}

/** The manager's store: every migration applied. */
export const MANAGER_TEMPLATE: TemplatePreparation = {
  name: 'manager',
  key: createHash('sha256').update(JSON.stringify(MIGRATIONS)).digest('hex').slice(0, 16),
  prepare: async (db) => {
    await migrate(db);
  },
};

/**
 * Every cluster holds this file. A template is renamed into place only once closed, so where
 * it is found the template is whole.
 */
const CLUSTER_MARK = 'PG_VERSION';

const making = new Map<string, Promise<string>>();

/**
 * Fills the empty data directory `dataDir` from the template (bare, or `preparation`'s). A
 * directory that already holds a cluster (a sandbox started again on its old files) is left
 * as it is.
 */
export async function seedPgliteDataDir(
  dataDir: string,
  preparation?: TemplatePreparation,
): Promise<void> {
  if (await hasCluster(dataDir)) return;
  await copyTree(await template(preparation), dataDir);
}

/**
 * The template's directory, made on first use. Concurrent callers in this process share one
 * making; concurrent processes each make their own in a private directory and the first to
 * rename it into place wins, so no one ever copies a half-made template.
 */
function template(preparation: TemplatePreparation | undefined): Promise<string> {
  const id = preparation === undefined ? '' : `${preparation.name}-${preparation.key}`;
  let made = making.get(id);
  if (made === undefined) {
    made = makeTemplate(preparation).catch((err: unknown) => {
      making.delete(id);
      throw err;
    });
    making.set(id, made);
  }
  return made;
}

async function makeTemplate(preparation: TemplatePreparation | undefined): Promise<string> {
  const base = join(tmpdir(), `rebalancer-pglite-template-${await pgliteVersion()}`);
  const target =
    preparation === undefined ? base : `${base}-${preparation.name}-${preparation.key}`;
  if (await hasCluster(target)) return target;
  const from = preparation === undefined ? undefined : await template(undefined);
  const scratch = await mkdtemp(`${target}.making-`);
  try {
    if (preparation === undefined) {
      await initdbInWorker(scratch);
    } else {
      await copyTree(from as string, scratch);
      const db = await PgliteDatabase.open(scratch);
      try {
        await preparation.prepare(db);
      } finally {
        await db.close();
      }
    }
    await rename(scratch, target);
  } catch (err) {
    await rm(scratch, { recursive: true, force: true });
    // Another process renamed its template into place first: use that one.
    if (await hasCluster(target)) return target;
    throw err;
  }
  return target;
}

/**
 * PGlite runs initdb synchronously, seconds of blocking: on a thread of its own it does not
 * hold up this process's watch over the services starting meanwhile. (A preparation runs here:
 * the manager's migrations take about a second, once per change of them.)
 */
async function initdbInWorker(dataDir: string): Promise<void> {
  // An eval worker resolves nothing from here: it is handed PGlite's resolved (CommonJS) entry.
  const code = `
    const { workerData } = require('node:worker_threads');
    const { PGlite } = require(workerData.pglite);
    const db = new PGlite({ dataDir: workerData.dataDir });
    db.waitReady.then(() => db.close());`;
  const pglite = createRequire(import.meta.url).resolve('@electric-sql/pglite');
  const worker = new Worker(code, { eval: true, workerData: { dataDir, pglite } });
  await new Promise<void>((resolve, reject) => {
    worker.once('error', (err) =>
      reject(
        new PgliteTemplateError(`initdb failed in ${dataDir}: ${err.message}`, { cause: err }),
      ),
    );
    worker.once('exit', (code) =>
      code === 0
        ? resolve()
        : reject(new PgliteTemplateError(`initdb in ${dataDir} exited with ${code}`)),
    );
  });
}

async function hasCluster(dir: string): Promise<boolean> {
  const entries = await readdir(dir).catch(() => [] as string[]);
  return entries.includes(CLUSTER_MARK);
}

/** Files copied at once: fs.cp copies one at a time, 1.6 times slower for the ~1,000 here. */
const COPIES_IN_FLIGHT = 16;

async function copyTree(from: string, to: string): Promise<void> {
  const entries = await readdir(from, { withFileTypes: true, recursive: true });
  const path = (e: (typeof entries)[number]) => relative(from, join(e.parentPath, e.name));
  // Sorted, a directory comes before what it holds.
  await mkdir(to, { recursive: true });
  for (const dir of entries
    .filter((e) => e.isDirectory())
    .map(path)
    .sort()) {
    await mkdir(join(to, dir), { recursive: true });
  }
  const files = entries.filter((e) => e.isFile()).map(path);
  let next = 0;
  const copier = async () => {
    for (let file = files[next++]; file !== undefined; file = files[next++]) {
      await copyFile(join(from, file), join(to, file));
    }
  };
  await Promise.all(Array.from({ length: COPIES_IN_FLIGHT }, copier));
}

/** The installed PGlite's version: a template made by another version is never used. */
async function pgliteVersion(): Promise<string> {
  let dir = dirname(createRequire(import.meta.url).resolve('@electric-sql/pglite'));
  for (;;) {
    const manifest = await readFile(join(dir, 'package.json'), 'utf8').catch(() => undefined);
    if (manifest !== undefined) {
      const parsed = JSON.parse(manifest) as { name?: string; version?: string };
      if (parsed.name === '@electric-sql/pglite' && parsed.version) return parsed.version;
    }
    const parent = dirname(dir);
    if (parent === dir) return 'unknown';
    dir = parent;
  }
}
