import type { StorageNode } from '../../api/common.ts';
import { vnodeOfKey } from '../ring.ts';

/**
 * Manta object and directory records built as muskie + libmanta + electric-moray store them
 * (protocols.md §4.1–§4.3), member order included: the rebalancer must keep that order when it
 * rewrites `sharks`, so the fixtures must have it.
 */
export interface ObjectRecordInput {
  owner: string;
  dirname: string;
  name: string;
  objectId: string;
  contentLength: number;
  contentMD5: string;
  contentType?: string;
  sharks: StorageNode[];
  mtime: number;
}

export type MantaRecord = Record<string, unknown> & { key: string; vnode: number };

export function objectRecord(input: ObjectRecordInput): MantaRecord {
  const key = `${input.dirname}/${input.name}`;
  return {
    dirname: input.dirname,
    key,
    headers: {},
    mtime: input.mtime,
    name: input.name,
    creator: input.owner,
    owner: input.owner,
    roles: [],
    type: 'object',
    contentLength: input.contentLength,
    contentMD5: input.contentMD5,
    contentType: input.contentType ?? 'application/octet-stream',
    etag: input.objectId,
    objectId: input.objectId,
    sharks: input.sharks,
    vnode: vnodeOfKey(key),
  };
}

export function directoryRecord(owner: string, path: string, mtime: number): MantaRecord {
  const slash = path.lastIndexOf('/');
  return {
    dirname: path.slice(0, slash) || '/',
    key: path,
    headers: {},
    mtime,
    name: path.slice(slash + 1),
    creator: owner,
    owner,
    roles: [],
    type: 'directory',
    vnode: vnodeOfKey(path),
  };
}
