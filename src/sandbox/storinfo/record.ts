/**
 * The `manta_storage` record minnow writes for a storage node (peers.md §1.2), computed from
 * a configured capacity and the bytes really under the node's root.
 */
import { createHash } from 'node:crypto';
import { storageIdLeadingNumber } from '../../manta/ids.ts';

const MIB = 1024 * 1024;
/** Fragment size reported in the statvfs member. */
const FRSIZE = 4096;

export interface StatvfsRecord {
  readonly bsize: number;
  readonly frsize: number;
  readonly blocks: number;
  readonly bfree: number;
  readonly bavail: number;
  readonly files: number;
  readonly ffree: number;
  readonly favail: number;
  readonly fsid: number;
  readonly flag: number;
  readonly namemax: number;
}

/** A storinfo node record, member order as minnow writes it. */
export interface StorageNodeRecord {
  readonly availableMB: number;
  readonly percentUsed: number;
  readonly filesystem: string;
  readonly statvfs: StatvfsRecord;
  readonly timestamp: number;
  readonly hostname: string;
  readonly datacenter: string;
  readonly server_uuid: string;
  readonly zone_uuid: string;
  readonly manta_compute_id: string;
  readonly manta_storage_id: string;
}

export interface SharkIdentity {
  readonly manta_storage_id: string;
  readonly datacenter: string;
  /** Reported as `filesystem` (the object root; `/manta` on a real node). */
  readonly root: string;
  readonly server_uuid?: string;
  readonly zone_uuid?: string;
}

/** A stable UUID-shaped id derived from a name, so a sandbox reports the same ids each run. */
export function derivedUuid(name: string): string {
  const h = createHash('md5').update(name).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** `N.stor.domain` → `N.cn.domain`; test ids (host:port) are reported as they are. */
function computeId(storageId: string): string {
  const n = storageIdLeadingNumber(storageId);
  const m = /^[0-9]+\.stor\.(.+?)(?::[0-9]+)?$/.exec(storageId);
  return m && !Number.isNaN(n) ? `${n}.cn.${m[1]}` : storageId;
}

export function buildRecord(
  shark: SharkIdentity,
  capacityBytes: number,
  usedBytes: number,
  timestamp: number,
): StorageNodeRecord {
  const used = Math.min(usedBytes, capacityBytes);
  const free = capacityBytes - used;
  const blocks = Math.floor(capacityBytes / FRSIZE);
  const bfree = Math.floor(free / FRSIZE);
  const zone = shark.zone_uuid ?? derivedUuid(`zone:${shark.manta_storage_id}`);
  return {
    availableMB: Math.floor(free / MIB),
    percentUsed: capacityBytes === 0 ? 100 : Math.min(100, Math.ceil((used / capacityBytes) * 100)),
    filesystem: shark.root,
    statvfs: {
      bsize: FRSIZE,
      frsize: FRSIZE,
      blocks,
      bfree,
      bavail: bfree,
      files: 1_000_000_000,
      ffree: 1_000_000_000,
      favail: 1_000_000_000,
      fsid: Number.parseInt(zone.slice(0, 7), 16),
      flag: 0,
      namemax: 255,
    },
    timestamp,
    hostname: zone,
    datacenter: shark.datacenter,
    server_uuid: shark.server_uuid ?? derivedUuid(`server:${shark.manta_storage_id}`),
    zone_uuid: zone,
    manta_compute_id: computeId(shark.manta_storage_id),
    manta_storage_id: shark.manta_storage_id,
  };
}
