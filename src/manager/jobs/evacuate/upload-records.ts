/**
 * MPU upload records (peers.md §4.3, manager.md §9.4): after parts of an in-progress upload
 * moved off the evacuated shark, the upload's record `.mpu-uploads/<uploadId>` still names it
 * among its pre-allocated sharks, where later parts and the commit would go. Each upload's
 * record is rewritten once per assignment, in every update mode (L only in batched mode). A
 * missing record is an upload already committed or aborted; a failure is logged and counted,
 * never the job's.
 */
import type { StorageNode } from '../../../api/common.ts';
import type { MantaObjectValue } from '../../../manta/index.ts';
import { mpuPartUploadId } from '../../../manta/mpu.ts';
import type { EvacuateContext } from './context.ts';

/** Rewrites the upload records of the v2 MPU parts among `moved` (all moved to `dest`). */
export async function updateUploadRecords(
  ctx: EvacuateContext,
  moved: readonly MantaObjectValue[],
  dest: StorageNode,
): Promise<void> {
  const { metadata, metrics, log } = ctx.deps;
  if (!metadata.updateUploadRecord) return;
  const uploads = new Map<string, MantaObjectValue>();
  for (const part of moved) {
    if (part.bucket_id === undefined) continue;
    const uploadId = mpuPartUploadId(part.name ?? part.key);
    if (uploadId !== undefined) uploads.set(`${part.owner}/${part.bucket_id}/${uploadId}`, part);
  }
  for (const [upload, part] of uploads) {
    try {
      const outcome = await metadata.updateUploadRecord(part, ctx.evacuated, dest, ctx.signal);
      // 'disabled' (no mdapi.vnode_count) was logged once when the manager started.
      metrics.uploadRecord(outcome);
      if (outcome === 'rewritten') {
        log.info({ upload, dest: dest.manta_storage_id }, 'MPU upload record rewritten');
      }
    } catch (err) {
      ctx.signal.throwIfAborted();
      metrics.uploadRecord('failed');
      log.warn({ err, upload }, 'rewriting an MPU upload record failed; the job goes on');
    }
  }
}
