import { randomUUID } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Static, Type } from 'typebox';
import { Value } from 'typebox/value';
import { KeyedMutex } from '../async/index.ts';
import { RebalancerError } from '../errors.ts';

/**
 * `sandbox.json`: the one description of a running sandbox that every tool reads (the demo,
 * the seeder, tests, benchmarks, an operator poking around).
 */
export const SandboxShard = Type.Object({
  /** The shard's name as Manta spells it, e.g. `1.moray.sandbox.test`. */
  name: Type.String(),
  host: Type.String(),
  port: Type.Integer({ minimum: 1, maximum: 65535 }),
  /** Set when the shard stores its tables in a real PostgreSQL (direct-db discovery works). */
  database_url: Type.Optional(Type.String()),
});
export type SandboxShard = Static<typeof SandboxShard>;

/**
 * A buckets-mdapi shard stand-in. The sandbox starts it with the discovery RPCs
 * (`listvnodes`/`listowners`) served: the production server lacks them, and on PGlite there is
 * no database the manager could scan directly instead.
 */
export const SandboxBucketsShard = Type.Object({
  /** `N.buckets-mdapi.<domain>`: the shard number is the first label. */
  name: Type.String(),
  host: Type.String(),
  port: Type.Integer({ minimum: 1, maximum: 65535 }),
  /** The vnodes of the buckets ring this shard hosts (its `manta_bucket_<vnode>` schemas). */
  vnodes: Type.Array(Type.Integer({ minimum: 0 }), { minItems: 1 }),
  /** Set when the shard's schemas are in a real PostgreSQL (direct-db discovery works). */
  database_url: Type.Optional(Type.String()),
});
export type SandboxBucketsShard = Static<typeof SandboxBucketsShard>;

export const SandboxShark = Type.Object({
  manta_storage_id: Type.String(),
  datacenter: Type.String(),
  mako_url: Type.String(),
  /** The mako's object root: what `/manta` is on a real storage node. */
  root: Type.String(),
  agent_url: Type.Optional(Type.String()),
});
export type SandboxShark = Static<typeof SandboxShark>;

export const SandboxProcess = Type.Object({
  name: Type.String(),
  pid: Type.Integer(),
  log: Type.String(),
});
export type SandboxProcess = Static<typeof SandboxProcess>;

export const SandboxDescription = Type.Object({
  domain: Type.String(),
  storinfo: Type.Object({ url: Type.String() }),
  manager: Type.Optional(
    Type.Object({
      url: Type.String(),
      /** Set when the manager keeps its jobs in a real PostgreSQL. */
      database_url: Type.Optional(Type.String()),
    }),
  ),
  shards: Type.Array(SandboxShard, { minItems: 1 }),
  /** Absent in a description written before buckets shards existed: none. */
  buckets_shards: Type.Optional(Type.Array(SandboxBucketsShard)),
  sharks: Type.Array(SandboxShark, { minItems: 1 }),
  /** The sandbox's own processes, so that `down` can stop every one of them. */
  processes: Type.Array(SandboxProcess),
});
export type SandboxDescription = Static<typeof SandboxDescription>;

export const SANDBOX_FILE = 'sandbox.json';

export class SandboxDescriptionError extends RebalancerError {
  override readonly name = 'SandboxDescriptionError';
  readonly code = 'sandbox_description';
}

export async function readSandboxDescription(dir: string): Promise<SandboxDescription> {
  const path = join(dir, SANDBOX_FILE);
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new SandboxDescriptionError(`cannot read ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (!Value.Check(SandboxDescription, parsed)) {
    const first = Value.Errors(SandboxDescription, parsed)[0];
    throw new SandboxDescriptionError(
      `${path} is not a sandbox description: ${first ? `${first.instancePath || '/'} ${first.message}` : 'invalid'}`,
    );
  }
  return parsed;
}

/** Writes to one file from this process, one after another. */
const writes = new KeyedMutex();

/**
 * Written atomically: a reader never sees half a description. Writes from this process to one
 * file are applied in the order they were called, so two callers at once (two fault lanes
 * restarting services) never let an older description overwrite a newer one.
 */
export async function writeSandboxDescription(
  dir: string,
  description: SandboxDescription,
): Promise<string> {
  const path = join(dir, SANDBOX_FILE);
  await writes.run(path, () => writeJsonFile(path, description));
  return path;
}

/**
 * `value` as JSON, written whole to a temp file of its own and renamed into place: a reader
 * never sees half a file, and writers at once never share a temp file.
 */
export async function writeJsonFile(path: string, value: unknown): Promise<void> {
  const temp = `${path}.${process.pid}.${randomUUID()}.tmp`;
  try {
    await writeFile(temp, `${JSON.stringify(value, null, 2)}\n`);
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}
