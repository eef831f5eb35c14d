/**
 * A user writes an object while the rebalancer evacuates it: a PUT of new bytes, so a new
 * objectId whose files are on the record's sharks. The manager read the record's etag at
 * discovery; the user's write changes it and the object's identity; the manager's conditional
 * metadata update must then fail and the object be skipped (`metadata_etag_mismatch`), the
 * user's write kept (a change that keeps the identity, such as new headers, is merged instead).
 *
 * To make the window deterministic, the object's download from its source mako is throttled:
 * the user writes once discovery has recorded every object, while the copy still trickles.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RebalancerError } from '../../errors.ts';
import { md5Base64 } from '../../manta/index.ts';
import { MorayClient } from '../../moray/index.ts';
import type { SandboxDescription, SandboxShark } from '../description.ts';
import type { DemoObject } from './objects.ts';

/** What the user's write sets, so the verification can recognise it. */
export const USER_HEADER = 'm-demo-user-overwrite';

export class DemoOverwriteError extends RebalancerError {
  override readonly name = 'DemoOverwriteError';
  readonly code = 'demo_overwrite_failed';
}

export interface UserWrite {
  key: string;
  /** Moray etag of the record after the user's write. */
  etag: string;
  /** The object id of the user's new version. */
  objectId: string;
  /** The copies the user's record names (unchanged by the user). */
  sharks: string[];
}

/** Slows every GET of the object on its copies outside the evacuated shark. */
export async function throttleSource(
  sandbox: SandboxDescription,
  object: DemoObject,
  evacuated: string,
  bytesPerSecond: number,
): Promise<void> {
  for (const shark of sourcesOf(sandbox, object, evacuated)) {
    await setFaults(shark, {
      throttle: { paths: [`/${object.owner}/${object.objectId}`], bytesPerSecond },
    });
  }
}

/** Clears the faults set by throttleSource: a download trickling under them speeds up. */
export async function clearThrottle(
  sandbox: SandboxDescription,
  object: DemoObject,
  evacuated: string,
): Promise<void> {
  for (const shark of sourcesOf(sandbox, object, evacuated)) await setFaults(shark, {});
}

function sourcesOf(
  sandbox: SandboxDescription,
  object: DemoObject,
  evacuated: string,
): SandboxShark[] {
  return sandbox.sharks.filter(
    (s) => s.manta_storage_id !== evacuated && object.sharks.includes(s.manta_storage_id),
  );
}

async function setFaults(shark: SandboxShark, faults: unknown): Promise<void> {
  const res = await fetch(new URL('/_sandbox/faults', shark.mako_url), {
    method: 'PUT',
    body: JSON.stringify(faults),
    headers: { 'content-type': 'application/json' },
    signal: AbortSignal.timeout(10_000),
  });
  if (!res.ok) {
    throw new DemoOverwriteError(
      `mako ${shark.manta_storage_id} refused faults: ${res.status} ${await res.text()}`,
    );
  }
}

/**
 * What a user's PUT of new bytes does: the new object's files on the record's sharks, then the
 * record replaced, conditionally on the etag just read. Returns the new etag.
 */
export async function overwriteAsUser(
  sandbox: SandboxDescription,
  object: DemoObject,
): Promise<UserWrite> {
  const shard = sandbox.shards[object.shardIndex];
  if (!shard) throw new DemoOverwriteError(`no shard ${object.shardIndex} for ${object.key}`);
  const client = new MorayClient({
    host: shard.host,
    port: shard.port,
    connections: 1,
    healthCheckIntervalMs: 0,
  });
  try {
    const current = await client.getObject('manta', object.key);
    const headers = { ...(current.value.headers as Record<string, unknown> | undefined) };
    headers[USER_HEADER] = new Date().toISOString();
    const sharks = (current.value.sharks as { manta_storage_id: string }[]).map(
      (s) => s.manta_storage_id,
    );
    const content = randomBytes(4096);
    const objectId = randomUUID();
    for (const id of sharks) {
      const shark = sandbox.sharks.find((s) => s.manta_storage_id === id);
      if (!shark) throw new DemoOverwriteError(`${object.key} names unknown shark ${id}`);
      await writeFile(join(shark.root, object.owner, objectId), content);
    }
    const { etag } = await client.putObject(
      'manta',
      object.key,
      {
        ...current.value,
        headers,
        objectId,
        etag: objectId,
        contentLength: content.length,
        contentMD5: md5Base64(content),
        mtime: Date.now(),
      },
      { etag: current._etag },
    );
    return { key: object.key, etag, objectId, sharks };
  } finally {
    await client.close();
  }
}
