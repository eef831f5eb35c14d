/**
 * The metadata port's one implementation the pipeline sees: each record goes to its tier's
 * adapter (Moray for v1, buckets-mdapi for v2; L's rule, a record with `bucket_id` is v2).
 */
import type { StorageNode } from '../../../api/common.ts';
import type { MantaObjectValue } from '../../../manta/index.ts';
import { type MetadataTier, tierOf } from '../../store/index.ts';
import {
  type LiveRecord,
  MetadataRejectedError,
  type MetadataUpdate,
  type MetadataWriter,
  type RecordRef,
  type UnusableRecord,
  type UploadRecordOutcome,
} from './types.ts';

export class TieredMetadataWriter implements MetadataWriter {
  constructor(private readonly tiers: Readonly<Partial<Record<MetadataTier, MetadataWriter>>>) {}

  private writer(tier: MetadataTier): MetadataWriter {
    const writer = this.tiers[tier];
    if (!writer) {
      throw new MetadataRejectedError(
        tier === 'buckets'
          ? 'a buckets (v2) object, but no mdapi shard is configured'
          : 'a Moray (v1) object, but no Moray shard is configured',
      );
    }
    return writer;
  }

  async putObject(update: MetadataUpdate, signal: AbortSignal): Promise<void> {
    return this.writer(tierOf(update.value)).putObject(update, signal);
  }

  async putBatch(
    shard: number,
    updates: readonly MetadataUpdate[],
    signal: AbortSignal,
  ): Promise<readonly MetadataUpdate[]> {
    const tiers = new Set(updates.map((u) => tierOf(u.value)));
    const [tier] = tiers;
    if (tier === undefined) return [];
    if (tiers.size > 1) throw new RangeError('a batch holds the records of one tier');
    return this.writer(tier).putBatch(shard, updates, signal);
  }

  async getObject(
    ref: RecordRef,
    signal: AbortSignal,
  ): Promise<LiveRecord | UnusableRecord | undefined> {
    return this.writer(ref.tier).getObject(ref, signal);
  }

  async updateUploadRecord(
    part: MantaObjectValue,
    evacuated: string,
    dest: StorageNode,
    signal: AbortSignal,
  ): Promise<UploadRecordOutcome> {
    const writer = this.writer(tierOf(part));
    if (!writer.updateUploadRecord) return 'disabled';
    return writer.updateUploadRecord(part, evacuated, dest, signal);
  }
}
