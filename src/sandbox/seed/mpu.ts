/**
 * Multipart uploads as buckets-api leaves them (peers.md §4.1), in each state:
 *  - in progress: the upload record (no sharks; its state in `x-upload-record` with
 *    `preAllocatedSharks`, and `x-preallocated-sharks`) and parts with their files on the
 *    pre-allocated sharks;
 *  - committed: the final object with its file, and the parts' rows left behind naming the
 *    sharks whose part files the commit deleted (the rebalancer skips them `mpu_part_no_data`);
 *  - initiated: an upload record and no part yet.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import {
  PREALLOCATED_SHARKS_HEADER,
  UPLOAD_RECORD_HEADER,
  uploadRecordName,
} from '../../manta/mpu.ts';
import { runBounded } from '../bounded.ts';
import type { SandboxShark } from '../description.ts';
import type { BucketsObjectInput, BucketsWriter } from './buckets-writer.ts';
import type { SeededRandom } from './random.ts';
import { pickCopies } from './seeder.ts';

export interface MpuCounts {
  in_progress: number;
  committed: number;
  initiated: number;
  /** Parts of in-progress uploads: rows and files. */
  parts_with_data: number;
  /** Parts of committed uploads: rows whose files are gone. */
  parts_gone: number;
}

interface UploadBucket {
  owner: string;
  id: string;
  name: string;
}

const PARTS_PER_UPLOAD = 3;
const UPLOAD_CONCURRENCY = 16;

export class MpuSeeder {
  constructor(
    private readonly writer: BucketsWriter,
    private readonly random: SeededRandom,
    private readonly sharks: readonly SandboxShark[],
    private readonly sizes: { minSize: number; maxSize: number; maxCopies: number },
  ) {}

  /** `uploads` uploads of each state, dealt over the buckets. */
  async seed(buckets: readonly UploadBucket[], uploads: number): Promise<MpuCounts> {
    const counts: MpuCounts = {
      in_progress: 0,
      committed: 0,
      initiated: 0,
      parts_with_data: 0,
      parts_gone: 0,
    };
    const tasks = Array.from({ length: uploads }, (_, k) => async () => {
      const bucket = (i: number) => buckets[(k * 3 + i) % buckets.length] as UploadBucket;
      // Awaited before adding: `+= await` would add to the count read before the await.
      const withData = await this.#upload(bucket(0), `mpu/in-progress-${k}`, 'progress');
      counts.parts_with_data += withData;
      counts.in_progress++;
      const gone = await this.#upload(bucket(1), `mpu/committed-${k}`, 'committed');
      counts.parts_gone += gone;
      counts.committed++;
      await this.#upload(bucket(2), `mpu/initiated-${k}`, 'initiated');
      counts.initiated++;
    });
    await runBounded(tasks, UPLOAD_CONCURRENCY);
    return counts;
  }

  /** Creates one upload; returns how many parts it has. */
  async #upload(
    bucket: UploadBucket,
    key: string,
    state: 'progress' | 'committed' | 'initiated',
  ): Promise<number> {
    const uploadId = `${Date.now().toString(36)}-${randomBytes(8).toString('hex')}`;
    const copies = pickCopies(this.random, this.sharks, Math.min(2, this.sizes.maxCopies));
    const parts: Buffer[] = [];
    if (state !== 'initiated') {
      const max = Math.min(this.sizes.maxSize, 64 * 1024);
      for (let n = 1; n <= PARTS_PER_UPLOAD; n++) {
        parts.push(randomBytes(this.random.logUniform(Math.min(this.sizes.minSize, max), max)));
      }
    }
    // Drawn before the first await: concurrent uploads must not interleave the generator.
    const ids = Array.from({ length: parts.length + 1 }, () => this.random.uuid());
    const object = (name: string, content: Buffer | null, extra: Partial<BucketsObjectInput>) =>
      this.writer.createObject(
        {
          owner: bucket.owner,
          bucketId: bucket.id,
          name,
          id: ids.pop() as string,
          content,
          contentType: 'application/octet-stream',
          copies,
          writeFiles: true,
          headers: {},
          ...extra,
        },
        randomUUID(),
      );
    for (const [i, part] of parts.entries()) {
      await object(`.mpu-parts/${uploadId}/${i + 1}`, part, { writeFiles: state === 'progress' });
    }
    if (state === 'committed') {
      await object(key, Buffer.concat(parts), {});
      return parts.length;
    }
    await object(uploadRecordName(uploadId), null, {
      copies: [],
      contentType: 'application/json',
      headers: uploadRecordHeaders(uploadId, bucket, key, copies, parts.length),
    });
    return parts.length;
  }
}

/** The headers buckets-api keeps an upload's state in; both copies of the shark list. */
function uploadRecordHeaders(
  uploadId: string,
  bucket: UploadBucket,
  key: string,
  copies: readonly SandboxShark[],
  parts: number,
): Record<string, string> {
  const preAllocatedSharks = copies.map((s) => ({
    datacenter: s.datacenter,
    manta_storage_id: s.manta_storage_id,
    zone: randomUUID(),
    availableMB: 1024,
    percentUtilized: 10,
    last_heartbeat: new Date().toISOString(),
    status: 'available',
  }));
  const record = {
    uploadId,
    bucket: bucket.name,
    key,
    account: bucket.owner,
    initiated: new Date().toISOString(),
    parts: Array.from({ length: parts }, (_, i) => i + 1),
    status: 'created',
    durabilityLevel: copies.length,
    preAllocatedSharks,
  };
  return {
    [UPLOAD_RECORD_HEADER]: JSON.stringify(record),
    'x-durability-level': String(copies.length),
    'x-upload-id': uploadId,
    [PREALLOCATED_SHARKS_HEADER]: JSON.stringify(preAllocatedSharks),
  };
}
