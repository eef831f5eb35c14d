/**
 * Fast frame encoder and streaming decoder (spec/protocols.md §1.2–§1.5), byte-compatible with
 * node-fast 3.x: 15-byte header, payload = compact JSON `{"m":{"uts":…,"name":…},"d":…}`.
 */
import { crc16ArcSliced, crc16OldFast } from './crc.ts';
import { FastProtocolError } from './errors.ts';

export const FAST_HEADER_SIZE = 15;

export const FAST_MSGID_MAX = 0x7fffffff;
export const FAST_TYPE_JSON = 1;
/** Default cap on one frame's payload; node-fast has none (§1.10), we refuse to buffer more. */
export const DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024;

export type FastVersion = 1 | 2;

export enum FastStatus {
  Data = 1,
  End = 2,
  Error = 3,
}

export interface FastMessage {
  version: FastVersion;
  status: FastStatus;
  msgid: number;
  data: { m: { uts: number; name: string | null }; d: unknown };
}

/** Current time in integer microseconds since the epoch (the `m.uts` member). */
export function nowMicros(): number {
  return Math.floor((performance.timeOrigin + performance.now()) * 1000);
}

/**
 * Encodes one frame exactly as node-fast does: `JSON.stringify` of `{m: {uts, name}, d}`.
 * Throws TypeError for values JSON cannot carry (an undefined `d`, BigInt, cycles).
 */
export function encodeFrame(msg: FastMessage): Buffer {
  checkFrameHeader(msg.version, msg.status, msg.msgid, msg.data.m.uts);
  const d = JSON.stringify(msg.data.d);
  if (d === undefined) throw new TypeError('fast message d is not JSON-serialisable');
  return frameOfText(msg.version, msg.status, msg.msgid, msg.data.m, d);
}

/**
 * Encodes a frame whose `d` is already JSON text (e.g. `[{"a":1}]`), byte for byte what
 * `encodeFrame` gives for `d = JSON.parse(dJson)` when the text is JSON.stringify's own output.
 * For a server that holds values serialised: no parse and re-stringify per value. The caller
 * vouches that `dJson` is valid JSON; it is not checked.
 */
export function encodeFrameJson(
  version: FastVersion,
  status: FastStatus,
  msgid: number,
  meta: { uts: number; name: string | null },
  dJson: string,
): Buffer {
  checkFrameHeader(version, status, msgid, meta.uts);
  return frameOfText(version, status, msgid, meta, dJson);
}

function checkFrameHeader(version: number, status: number, msgid: number, uts: number): void {
  if (version !== 1 && version !== 2) throw new TypeError(`invalid fast version: ${version}`);
  if (status !== FastStatus.Data && status !== FastStatus.End && status !== FastStatus.Error) {
    throw new TypeError(`invalid fast status: ${status}`);
  }
  if (!Number.isInteger(msgid) || msgid < 0 || msgid > FAST_MSGID_MAX) {
    throw new TypeError(`invalid fast msgid: ${msgid}`);
  }
  if (!Number.isSafeInteger(uts) || uts < 0) {
    throw new TypeError(`m.uts must be a non-negative integer: ${uts}`);
  }
}

function frameOfText(
  version: FastVersion,
  status: FastStatus,
  msgid: number,
  meta: { uts: number; name: string | null },
  d: string,
): Buffer {
  const text = `{"m":{"uts":${meta.uts},"name":${JSON.stringify(meta.name)}},"d":${d}}`;
  const length = Buffer.byteLength(text, 'utf8');
  const frame = Buffer.allocUnsafe(FAST_HEADER_SIZE + length);
  frame.write(text, FAST_HEADER_SIZE, length, 'utf8');
  const crc =
    version === 2 ? crc16ArcSliced(frame, FAST_HEADER_SIZE, frame.length) : crc16OldFast(text);
  frame[0] = version;
  frame[1] = FAST_TYPE_JSON;
  frame[2] = status;
  frame.writeUInt32BE(msgid, 3);
  frame.writeUInt32BE(crc, 7);
  frame.writeUInt32BE(length, 11);
  return frame;
}

export interface FastDecoderOptions {
  /** Largest accepted payload (DATALEN) in bytes; default 64 MiB. */
  maxMessageSize?: number;
}

/**
 * Streaming decoder: feed it chunks as they arrive; it returns the complete frames. Bytes of an
 * incomplete frame are kept as a list of chunks and joined once, when the frame is complete, so a
 * large frame arriving in many chunks costs one copy. Any violation throws FastProtocolError, and
 * the decoder then stays failed (the connection must be dropped).
 */
export class FastDecoder {
  private readonly maxMessageSize: number;
  /** Chunks of the incomplete frame at the tail of the stream, and their total length. */
  private pending: Buffer[] = [];
  private pendingLength = 0;
  /** Bytes needed before parsing can make progress (header, or header + payload). */
  private needed = FAST_HEADER_SIZE;
  private failure: FastProtocolError | undefined;

  constructor(opts: FastDecoderOptions = {}) {
    this.maxMessageSize = opts.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
  }

  /** Number of bytes buffered (part of a frame not yet complete). */
  get buffered(): number {
    return this.pendingLength;
  }

  push(chunk: Buffer): FastMessage[] {
    if (this.failure) throw this.failure;
    let buf: Buffer;
    if (this.pendingLength === 0) {
      buf = chunk;
    } else {
      this.pending.push(chunk);
      this.pendingLength += chunk.length;
      if (this.pendingLength < this.needed) return [];
      buf = Buffer.concat(this.pending, this.pendingLength);
      this.pending = [];
      this.pendingLength = 0;
    }
    const out: FastMessage[] = [];
    let off = 0;
    try {
      while (buf.length - off >= FAST_HEADER_SIZE) {
        const length = this.checkHeader(buf, off);
        const end = off + FAST_HEADER_SIZE + length;
        if (end > buf.length) {
          this.needed = FAST_HEADER_SIZE + length;
          break;
        }
        out.push(decodePayload(buf, off, end));
        off = end;
        this.needed = FAST_HEADER_SIZE;
      }
    } catch (err) {
      if (err instanceof FastProtocolError) this.failure = err;
      throw err;
    }
    if (off < buf.length) {
      this.pending.push(off === 0 ? buf : buf.subarray(off));
      this.pendingLength = buf.length - off;
    }
    return out;
  }

  /** Call at end of stream: throws `incomplete_message` when a partial frame is left over. */
  end(): void {
    if (this.failure) throw this.failure;
    if (this.pendingLength > 0) {
      this.failure = new FastProtocolError(
        'incomplete_message',
        `fast stream ended with ${this.pendingLength} bytes of an incomplete message`,
        { bytesBuffered: this.pendingLength },
      );
      throw this.failure;
    }
  }

  /** Validates the fixed header fields at `off` (§1.3 steps 1–4) and returns DATALEN. */
  private checkHeader(buf: Buffer, off: number): number {
    const version = buf[off]!;
    if (version !== 1 && version !== 2) {
      throw new FastProtocolError('unsupported_version', `unsupported fast version ${version}`, {
        version,
      });
    }
    const type = buf[off + 1]!;
    if (type !== FAST_TYPE_JSON) {
      throw new FastProtocolError('unsupported_type', `unsupported fast type ${type}`, { type });
    }
    const status = buf[off + 2]!;
    if (status !== FastStatus.Data && status !== FastStatus.End && status !== FastStatus.Error) {
      throw new FastProtocolError('unsupported_status', `unsupported fast status ${status}`, {
        status,
      });
    }
    const msgid = buf.readUInt32BE(off + 3);
    if (msgid > FAST_MSGID_MAX) {
      throw new FastProtocolError('invalid_msgid', `invalid fast msgid ${msgid}`, { msgid });
    }
    const length = buf.readUInt32BE(off + 11);
    if (length > this.maxMessageSize) {
      throw new FastProtocolError(
        'message_too_large',
        `fast message of ${length} bytes exceeds the limit of ${this.maxMessageSize}`,
        { msgid, length, maxMessageSize: this.maxMessageSize },
      );
    }
    return length;
  }
}

/** Decodes the payload of the (already header-checked) frame at `buf[off, end)` (§1.3 6–9). */
function decodePayload(buf: Buffer, off: number, end: number): FastMessage {
  const version = buf[off] as FastVersion;
  const status = buf[off + 2] as FastStatus;
  const msgid = buf.readUInt32BE(off + 3);
  const crcExpected = buf.readUInt32BE(off + 7);
  const start = off + FAST_HEADER_SIZE;
  // v2: ARC over the raw bytes equals node-fast's ARC over the re-encoded decoded string for
  // every valid UTF-8 payload, and spares a second UTF-8 encoding.
  let text: string;
  let crcCalculated: number;
  if (version === 2) {
    crcCalculated = crc16ArcSliced(buf, start, end);
    text = crcCalculated === crcExpected ? buf.toString('utf8', start, end) : '';
  } else {
    text = buf.toString('utf8', start, end);
    crcCalculated = crc16OldFast(text);
  }
  if (crcCalculated !== crcExpected) {
    throw new FastProtocolError(
      'bad_crc',
      `fast message ${msgid}: CRC mismatch (expected ${crcExpected}, calculated ${crcCalculated})`,
      { msgid, crcExpected, crcCalculated, version },
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new FastProtocolError('invalid_json', `fast message ${msgid}: payload is not JSON`, {
      msgid,
      cause: err instanceof Error ? err.message : String(err),
    });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new FastProtocolError('bad_data', `fast message ${msgid}: payload is not an object`, {
      msgid,
    });
  }
  const data = parsed as { m?: unknown; d?: unknown };
  if (status === FastStatus.Error) {
    const d = data.d as { name?: unknown; message?: unknown } | null | undefined;
    if (
      typeof d !== 'object' ||
      d === null ||
      Array.isArray(d) ||
      typeof d.name !== 'string' ||
      typeof d.message !== 'string'
    ) {
      throw new FastProtocolError(
        'bad_error',
        `fast message ${msgid}: ERROR payload lacks a string name and message`,
        { msgid },
      );
    }
  } else if (!Array.isArray(data.d)) {
    throw new FastProtocolError('bad_data_d', `fast message ${msgid}: d is not an array`, {
      msgid,
    });
  }
  return { version, status, msgid, data: { m: normaliseMeta(data.m), d: data.d } };
}

/**
 * node-fast does not validate `m` in the decoder; we present a well-typed view instead, with
 * `name: null` when it is missing (the server then answers `bad_data`, §1.6).
 */
function normaliseMeta(m: unknown): { uts: number; name: string | null } {
  if (typeof m === 'object' && m !== null) {
    const meta = m as { uts?: unknown; name?: unknown };
    if (typeof meta.uts === 'number' && (typeof meta.name === 'string' || meta.name === null)) {
      return meta as { uts: number; name: string | null };
    }
    return {
      uts: typeof meta.uts === 'number' ? meta.uts : 0,
      name: typeof meta.name === 'string' ? meta.name : null,
    };
  }
  return { uts: 0, name: null };
}
