/**
 * The two 16-bit CRCs of the Fast protocol (spec/protocols.md §1.4).
 *
 * v2 frames carry CRC-16/ARC over the payload's UTF-8 bytes; v1 frames carry the "oldcrc"
 * variant: CRC-16/XMODEM fed with the low byte of every UTF-16 code unit of the JSON text
 * (identical to XMODEM over the bytes for pure ASCII, different otherwise).
 */

function arcTable(): Uint16Array {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1;
    table[i] = c;
  }
  return table;
}

function xmodemTable(): Uint16Array {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let k = 0; k < 8; k++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
    table[i] = c;
  }
  return table;
}

const ARC = arcTable();
const XMODEM = xmodemTable();

/** CRC-16/ARC (poly 0x8005 reflected, init 0, no xorout) over `bytes[start, end)`. */
export function crc16Arc(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0;
  for (let i = start; i < end; i++) crc = (crc >>> 8) ^ ARC[(crc ^ bytes[i]!) & 0xff]!;
  return crc;
}

/** Slicing-by-4 tables of CRC-16/ARC: entry t[i] is the CRC of byte i followed by t zero bytes. */
const ARC_SLICES = ((): Uint16Array[] => {
  const t0 = new Uint16Array(256);
  for (let i = 0; i < 256; i++) t0[i] = crc16Arc(Uint8Array.of(i));
  const tables = [t0];
  for (let t = 1; t < 4; t++) {
    const prev = tables[t - 1]!;
    const next = new Uint16Array(256);
    for (let i = 0; i < 256; i++) next[i] = (prev[i]! >>> 8) ^ t0[prev[i]! & 0xff]!;
    tables.push(next);
  }
  return tables;
})();

/**
 * CRC-16/ARC over `bytes[start, end)`, equal to `crc16Arc`, four bytes per step: every
 * frame is checksummed on both ends, and on ~1 KiB records the byte-at-a-time loop costs about
 * three times as much.
 */
export function crc16ArcSliced(bytes: Uint8Array, start = 0, end = bytes.length): number {
  const [t0, t1, t2, t3] = ARC_SLICES as [Uint16Array, Uint16Array, Uint16Array, Uint16Array];
  let crc = 0;
  let i = start;
  for (; i + 3 < end; i += 4) {
    const x = crc ^ (bytes[i]! | (bytes[i + 1]! << 8));
    crc = t3[x & 0xff]! ^ t2[x >>> 8]! ^ t1[bytes[i + 2]!]! ^ t0[bytes[i + 3]!]!;
  }
  for (; i < end; i++) crc = (crc >>> 8) ^ t0[(crc ^ bytes[i]!) & 0xff]!;
  return crc;
}

/** CRC-16/XMODEM (poly 0x1021, init 0, not reflected) over bytes. */
export function crc16Xmodem(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0;
  for (let i = start; i < end; i++)
    crc = ((crc << 8) & 0xffff) ^ XMODEM[((crc >>> 8) ^ bytes[i]!) & 0xff]!;
  return crc;
}

/** node-fast v1 ("oldcrc"): XMODEM over the low 8 bits of each UTF-16 code unit of `text`. */
export function crc16OldFast(text: string): number {
  let crc = 0;
  for (let i = 0; i < text.length; i++) {
    crc = ((crc << 8) & 0xffff) ^ XMODEM[((crc >>> 8) ^ text.charCodeAt(i)) & 0xff]!;
  }
  return crc;
}
