import { crc32 } from 'node:zlib';

/**
 * Moray's etag of a stored value (spec/protocols.md §3.5): CRC-32 over the low byte of each
 * UTF-16 code unit of the JSON text (the quirk of the crc library Moray uses; `latin1` encoding
 * keeps exactly that byte), as 8 upper-case hex digits. Equals zlib's CRC-32 of the UTF-8 bytes
 * for ASCII text.
 */
export function morayEtag(json: string): string {
  return crc32(Buffer.from(json, 'latin1')).toString(16).toUpperCase().padStart(8, '0');
}
