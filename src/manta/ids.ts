/**
 * Validation of Manta identifiers: account/object/bucket UUIDs, v2 object-name
 * hashes and storage node ids (`N.stor.domain`, optionally `host:port` for test
 * deployments). Everything that ends up in a file path or a URL goes through here.
 */
import { type HostAliases, resolveAuthority } from './address.ts';
import { InvalidMantaIdError } from './errors.ts';

export { InvalidMantaIdError };

/** 8-4-4-4-12 hex. Version/variant nibbles are not checked: Manta data has non-RFC-4122 ids. */
const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/** Lower-case hex MD5 of the object name, as buckets-api writes it into the v2 file name. */
const NAME_HASH_RE = /^[0-9a-f]{32}$/;
/**
 * Lenient id token (legacy agent tests use owner `rebalancer`, object `abc`): one safe
 * path segment — no leading dot (so never `.` or `..`), no separators.
 */
const TOKEN_RE = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;
const DNS_LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
/** `N.stor.<domain>` as minnow registers storage nodes, with an optional `:port`. */
const MANTA_STORAGE_ID_RE = new RegExp(
  `^([0-9]{1,9})\\.stor(?:\\.${DNS_LABEL})+(?::([0-9]{1,5}))?$`,
);
const HOSTNAME_RE = new RegExp(`^${DNS_LABEL}(?:\\.${DNS_LABEL})*$`);
const IPV4_RE =
  /^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])$/;
const IPV6_BRACKETED_RE = /^\[[0-9A-Fa-f:.]{2,45}\]$/;

/**
 * How strictly owner/object ids are checked. `uuid` (default) is what Manta writes;
 * `token` admits any single safe path segment (legacy fixtures such as `rebalancer/abc`).
 */
export type IdPolicy = 'uuid' | 'token';

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID_RE.test(value);
}

/** True when `value` is a valid owner or object id under `policy`. */
export function isMantaId(value: unknown, policy: IdPolicy = 'uuid'): value is string {
  if (typeof value !== 'string') return false;
  return policy === 'uuid' ? UUID_RE.test(value) : TOKEN_RE.test(value) && !value.includes('..');
}

export function isObjectNameHash(value: unknown): value is string {
  return typeof value === 'string' && NAME_HASH_RE.test(value);
}

/** Throws InvalidMantaIdError unless `value` is a valid owner/object id under `policy`. */
export function assertMantaId(
  field: string,
  value: unknown,
  policy: IdPolicy = 'uuid',
): asserts value is string {
  if (!isMantaId(value, policy)) {
    throw new InvalidMantaIdError(
      field,
      value,
      policy === 'uuid' ? 'not a UUID' : 'not a safe identifier ([A-Za-z0-9._-], no leading dot)',
    );
  }
}

/** Bucket ids are always UUIDs (buckets-mdapi column type `uuid`). */
export function assertBucketId(value: unknown): asserts value is string {
  if (!isUuid(value)) throw new InvalidMantaIdError('bucketId', value, 'not a UUID');
}

export function assertObjectNameHash(value: unknown): asserts value is string {
  if (!isObjectNameHash(value)) {
    throw new InvalidMantaIdError('objectNameHash', value, 'not 32 lower-case hex characters');
  }
}

export interface StorageIdParts {
  /** Host part, as it goes into a URL authority (IPv6 stays bracketed). */
  readonly host: string;
  /** Explicit port, or undefined for the default (80). */
  readonly port: number | undefined;
  /** Leading integer of an `N.stor.domain` id, undefined for test host:port ids. */
  readonly storNumber: number | undefined;
}

export interface StorageIdOptions {
  /**
   * Also accept `host:port` (host name, IPv4 or bracketed IPv6, port required), the form
   * test deployments use (`127.0.0.1:8080`, `localhost:8080`). Default false.
   */
  readonly allowHostPort?: boolean;
  /** Where storage ids that DNS cannot resolve are served (`1.stor.x:80` → `127.0.0.1:4001`). */
  readonly aliases?: HostAliases;
}

function parsePort(text: string | undefined): number | undefined | null {
  if (text === undefined) return undefined;
  const port = Number(text);
  return Number.isInteger(port) && port >= 1 && port <= 65535 ? port : null;
}

/** Parses a storage node id; returns undefined when it is not acceptable. */
export function parseStorageId(
  id: unknown,
  options: StorageIdOptions = {},
): StorageIdParts | undefined {
  if (typeof id !== 'string' || id.length === 0 || id.length > 253 + 6) return undefined;
  const manta = MANTA_STORAGE_ID_RE.exec(id);
  if (manta) {
    const port = parsePort(manta[2]);
    if (port === null) return undefined;
    const host = port === undefined ? id : id.slice(0, id.lastIndexOf(':'));
    return { host, port, storNumber: Number(manta[1]) };
  }
  if (!options.allowHostPort) return undefined;
  const colon = id.lastIndexOf(':');
  if (colon <= 0) return undefined;
  const host = id.slice(0, colon);
  const port = parsePort(id.slice(colon + 1));
  if (port === undefined || port === null || !/^[0-9]+$/.test(id.slice(colon + 1))) {
    return undefined;
  }
  if (!(IPV4_RE.test(host) || IPV6_BRACKETED_RE.test(host) || HOSTNAME_RE.test(host))) {
    return undefined;
  }
  return { host, port, storNumber: undefined };
}

/** A DNS domain storage ids can end in (`us-east.joyent.us`); never an IP address. */
export function isMantaDomain(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    value.length <= 240 &&
    HOSTNAME_RE.test(value) &&
    !/^[0-9]+$/.test(value.slice(value.lastIndexOf('.') + 1))
  );
}

export function isStorageId(id: unknown, options: StorageIdOptions = {}): id is string {
  return parseStorageId(id, options) !== undefined;
}

export function assertStorageId(id: unknown, options: StorageIdOptions = {}): asserts id is string {
  if (!isStorageId(id, options)) {
    throw new InvalidMantaIdError(
      'storageId',
      id,
      options.allowHostPort ? 'not N.stor.<domain>[:port] nor host:port' : 'not N.stor.<domain>',
    );
  }
}

/** The mako base URL for a storage id: the id is the URL authority, verbatim (port 80 implied). */
export function storageIdBaseUrl(id: string, options: StorageIdOptions = {}): string {
  assertStorageId(id, options);
  return `http://${resolveAuthority(id, 80, options.aliases)}`;
}

/**
 * Leading integer of a storage id (`10.stor.x` → 10), NaN when there is none. Storinfo
 * orders nodes by this value.
 */
export function storageIdLeadingNumber(id: string): number {
  const m = /^[0-9]+/.exec(id);
  return m ? Number(m[0]) : Number.NaN;
}

/**
 * Storinfo's order: numerically by leading integer (`9.stor` before `10.stor`); ids without
 * one sort after those with one; ties (and the rest) by plain string comparison.
 */
export function compareStorageIds(a: string, b: string): number {
  const na = storageIdLeadingNumber(a);
  const nb = storageIdLeadingNumber(b);
  const aNum = !Number.isNaN(na);
  const bNum = !Number.isNaN(nb);
  if (aNum && bNum && na !== nb) return na - nb;
  if (aNum !== bNum) return aNum ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}
