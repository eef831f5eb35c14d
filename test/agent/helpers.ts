/** Shared fixtures for agent tests: temp dirs, configs, objects on a source mako. */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type AgentConfig, resolveConfig } from '../../src/agent/config.ts';
import type { Assignment } from '../../src/api/agent.ts';
import type { Task } from '../../src/api/common.ts';
import { createLogger } from '../../src/log/index.ts';
import { md5Base64, md5Hex, objectPath } from '../../src/manta/index.ts';

export const silentLog = createLogger({ name: 'agent-test', level: 'silent' });

/** A pending task `obj-<n>` (for store and scheduler tests: nothing is downloaded). */
export function pendingTask(n: number): Task {
  return {
    object_id: `obj-${n}`,
    owner: 'owner',
    md5sum: '1B2M2Y8AsgTpgAmY7PhCfg==',
    source: { datacenter: 'dc', manta_storage_id: '1.stor.example.com' },
    status: 'Pending',
  };
}

export interface TempDirs {
  readonly base: string;
  readonly objectRoot: string;
  readonly stateDir: string;
  readonly sourceRoot: string;
  cleanup(): Promise<void>;
}

export async function tempDirs(): Promise<TempDirs> {
  const base = await mkdtemp(join(tmpdir(), 'agent-test-'));
  const dirs = {
    base,
    objectRoot: join(base, 'manta'),
    stateDir: join(base, 'state'),
    sourceRoot: join(base, 'source'),
  };
  for (const d of [dirs.objectRoot, dirs.stateDir, dirs.sourceRoot]) await mkdir(d);
  return { ...dirs, cleanup: () => rm(base, { recursive: true, force: true }) };
}

/** A config for tests: loopback, port 0, no metrics, short retry delays, token ids. */
export function testConfig(dirs: TempDirs, overrides: Partial<AgentConfig> = {}): AgentConfig {
  const base = resolveConfig({});
  return {
    ...base,
    host: '127.0.0.1',
    port: 0,
    workers: 2,
    workersPerAssignment: 2,
    maxDownloads: 4,
    retryDelaysMs: [5, 10],
    downloadTimeoutSecs: 5,
    connectTimeoutSecs: 2,
    stateDir: dirs.stateDir,
    objectRoot: dirs.objectRoot,
    allowHostPortSources: true,
    logLevel: 'silent',
    metrics: { ...base.metrics, enabled: false, host: '127.0.0.1', port: 0 },
    ...overrides,
  };
}

export interface SourceObject {
  readonly owner: string;
  readonly objectId: string;
  readonly bucketId?: string;
  readonly objectNameHash?: string;
  readonly data: Buffer;
  readonly md5: string;
  /** Root-relative path (v1 or v2). */
  readonly path: string;
}

/** Writes an object into a mako root at its v1 (or v2) path. */
export async function putSourceObject(
  root: string,
  size: number,
  options: { v2?: boolean; owner?: string; objectId?: string } = {},
): Promise<SourceObject> {
  const owner = options.owner ?? randomUUID();
  const objectId = options.objectId ?? randomUUID();
  const data = randomBytes(size);
  const v2 = options.v2 ? { bucketId: randomUUID(), objectNameHash: md5Hex(objectId) } : {};
  const path = objectPath({ owner, objectId, ...v2 });
  const file = join(root, path);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, data);
  return { owner, objectId, ...v2, data, md5: md5Base64(data), path };
}

export function taskFor(obj: SourceObject, storageId: string, md5 = obj.md5): Task {
  const task: Task = {
    object_id: obj.objectId,
    owner: obj.owner,
    md5sum: md5,
    source: { datacenter: 'dc1', manta_storage_id: storageId },
    status: 'Pending',
  };
  if (obj.bucketId !== undefined) task.bucket_id = obj.bucketId;
  if (obj.objectNameHash !== undefined) task.object_name_hash = obj.objectNameHash;
  return task;
}

export function headers(token?: string): Record<string, string> {
  const h: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== undefined) h.authorization = `Bearer ${token}`;
  return h;
}

export async function postAssignment(
  url: string,
  body: unknown,
  token?: string,
): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(`${url}/assignments`, {
    method: 'POST',
    headers: headers(token),
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

export async function getAssignment(url: string, id: string, token?: string): Promise<Assignment> {
  const res = await fetch(`${url}/assignments/${id}`, { headers: headers(token) });
  if (res.status !== 200) throw new Error(`GET ${id}: ${res.status} ${await res.text()}`);
  return (await res.json()) as Assignment;
}

/** Polls until the assignment is Complete (gives up after `limitMs` so a bug cannot hang). */
export async function waitComplete(
  url: string,
  id: string,
  token?: string,
  limitMs = 60_000,
): Promise<Assignment> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const a = await getAssignment(url, id, token);
    if (typeof a.stats.state === 'object') return a;
    if (Date.now() > deadline)
      throw new Error(`assignment ${id} not complete: ${JSON.stringify(a)}`);
    await sleep(10);
  }
}
