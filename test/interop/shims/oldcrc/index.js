/*
 * Stand-in for `oldcrc` (node-crc 0.3.0, a git dependency of node-fast that this machine cannot
 * fetch), written from its definition in spec/protocols.md §1.4: CRC-16/XMODEM (polynomial
 * 0x1021, init 0, not reflected, no final xor) fed with the low 8 bits of each UTF-16 code unit
 * of the string, not with its UTF-8 bytes. node-fast uses it only for version-1 frames.
 * Computed bit by bit, unlike src/fast/crc.ts (table driven), so the two are independent.
 */

function crc16(text) {
  let crc = 0;
  for (let i = 0; i < text.length; i++) {
    crc ^= (text.charCodeAt(i) & 0xff) << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
  }
  return crc;
}

exports.crc16 = crc16;
