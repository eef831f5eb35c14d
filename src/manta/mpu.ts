/**
 * Multipart uploads of buckets objects (peers.md §4.1–§4.3): the key patterns of part and
 * upload-record objects, and the rewrite of an upload record's pre-allocated sharks when an
 * upload's parts move off an evacuated shark. buckets-api keeps the record in two headers,
 * `x-upload-record` (JSON with `preAllocatedSharks`) and `x-preallocated-sharks` (a JSON
 * array); both copies are rewritten (L rewrote `properties.content`, which no record has).
 */
import type { StorageNode } from '../api/common.ts';
import { RebalancerError } from '../errors.ts';
import { InvalidMantaIdError } from './errors.ts';

const MPU_PART_RE = /^\.mpu-parts\/([^/]+)\/\d+$/;
const MPU_UPLOAD_RE = /^\.mpu-uploads\/([^/]+)$/;

export const UPLOAD_RECORD_HEADER = 'x-upload-record';
export const PREALLOCATED_SHARKS_HEADER = 'x-preallocated-sharks';

/** The upload id of a part object's name (`.mpu-parts/<uploadId>/<n>`), else undefined. */
export function mpuPartUploadId(name: string): string | undefined {
  return MPU_PART_RE.exec(name)?.[1];
}

/** The upload id of an upload record's name (`.mpu-uploads/<uploadId>`), else undefined. */
export function mpuUploadRecordId(name: string): string | undefined {
  return MPU_UPLOAD_RE.exec(name)?.[1];
}

/** The upload record's object name; an id that could address another object is refused. */
export function uploadRecordName(uploadId: string): string {
  if (uploadId === '' || /[/\0]/.test(uploadId) || uploadId.includes('..')) {
    throw new InvalidMantaIdError('uploadId', uploadId, 'empty, or contains "/", NUL or ".."');
  }
  return `.mpu-uploads/${uploadId}`;
}

/** An upload record whose headers do not hold the JSON buckets-api writes there. */
export class UploadRecordError extends RebalancerError {
  override readonly name = 'UploadRecordError';
  readonly code = 'mpu_upload_record_invalid';
  constructor(
    readonly header: string,
    reason: string,
  ) {
    super(`upload record header ${header}: ${reason}`);
  }
}

export interface UploadRecordRewrite {
  /** The record's headers with both copies rewritten; every other header as it was. */
  readonly headers: Record<string, string | null>;
  /** Entries replaced over both copies. */
  readonly replaced: number;
}

function isEntry(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Replaces, in place, each pre-allocated shark entry naming `evacuated` by `destination`:
 * its `manta_storage_id` and `datacenter` (later parts are written where the entry points);
 * other members of the entry are kept. Returns how many entries it replaced.
 */
function rewriteEntries(
  entries: unknown,
  header: string,
  evacuated: string,
  destination: StorageNode,
): number {
  if (!Array.isArray(entries)) throw new UploadRecordError(header, 'sharks are not an array');
  let replaced = 0;
  for (const entry of entries) {
    if (!isEntry(entry)) throw new UploadRecordError(header, 'a shark entry is not an object');
    if (entry.manta_storage_id !== evacuated) continue;
    entry.manta_storage_id = destination.manta_storage_id;
    entry.datacenter = destination.datacenter;
    replaced++;
  }
  return replaced;
}

function parseHeader(headers: Readonly<Record<string, string | null>>, header: string): unknown {
  const text = headers[header];
  if (text === undefined || text === null) return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UploadRecordError(header, `not JSON (${(err as Error).message})`);
  }
}

/**
 * The upload record's headers with `evacuated` replaced by `destination` in both copies of
 * its pre-allocated sharks, or undefined when neither copy names `evacuated`. Throws
 * UploadRecordError when a copy present is not the JSON buckets-api writes.
 */
export function rewriteUploadRecordSharks(
  headers: Readonly<Record<string, string | null>>,
  evacuated: string,
  destination: StorageNode,
): UploadRecordRewrite | undefined {
  const out: Record<string, string | null> = { ...headers };
  let replaced = 0;
  const record = parseHeader(headers, UPLOAD_RECORD_HEADER);
  if (record !== undefined) {
    if (!isEntry(record)) throw new UploadRecordError(UPLOAD_RECORD_HEADER, 'not an object');
    if (record.preAllocatedSharks !== undefined) {
      const n = rewriteEntries(
        record.preAllocatedSharks,
        UPLOAD_RECORD_HEADER,
        evacuated,
        destination,
      );
      if (n > 0) out[UPLOAD_RECORD_HEADER] = JSON.stringify(record);
      replaced += n;
    }
  }
  const sharks = parseHeader(headers, PREALLOCATED_SHARKS_HEADER);
  if (sharks !== undefined) {
    const n = rewriteEntries(sharks, PREALLOCATED_SHARKS_HEADER, evacuated, destination);
    if (n > 0) out[PREALLOCATED_SHARKS_HEADER] = JSON.stringify(sharks);
    replaced += n;
  }
  return replaced > 0 ? { headers: out, replaced } : undefined;
}
