/**
 * Bounded JSON request bodies, for both services. `JSON.parse` itself has no limits: a body
 * of a million `[` exhausts the heap in its recursion, one long string or a mass of empty
 * containers costs many times the body's size in heap. So the raw bytes are scanned first
 * (one linear pass, no allocation) for nesting depth, string length and container count,
 * and only a body within bounds is handed to `JSON.parse`.
 */
import { RebalancerError } from '../errors.ts';

export interface JsonLimits {
  /** Deepest nesting of objects/arrays (the top-level value is depth 1). */
  readonly maxDepth: number;
  /** Longest string (key or value), in raw bytes between the quotes. */
  readonly maxStringBytes: number;
  /** Most objects and arrays in one body (each costs tens of bytes of heap, `{}` only 2 of body). */
  readonly maxContainers: number;
}

/**
 * Why a body was refused: `BadRequest` (400) or `PayloadTooLarge` (413). The message is a
 * predicate about the body ("is not valid JSON: ..."), for the caller to prefix.
 */
export class JsonBodyError extends RebalancerError {
  override readonly name = 'JsonBodyError';
  constructor(
    readonly code: 'BadRequest' | 'PayloadTooLarge',
    message: string,
  ) {
    super(message);
  }

  get status(): 400 | 413 {
    return this.code === 'PayloadTooLarge' ? 413 : 400;
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;

/**
 * Throws JsonBodyError when `bytes` (UTF-8) nests deeper, holds a longer string or more
 * containers than `limits` allow. Works on bytes: every JSON structural character is ASCII
 * and no byte of a multi-byte UTF-8 sequence is below 0x80. Syntax is left to JSON.parse.
 */
export function checkJsonBounds(bytes: Uint8Array, limits: JsonLimits): void {
  let depth = 0;
  let containers = 0;
  let i = 0;
  const n = bytes.length;
  while (i < n) {
    const c = bytes[i]!;
    if (c === QUOTE) {
      const start = ++i;
      while (i < n) {
        const s = bytes[i]!;
        if (s === QUOTE) break;
        i += s === BACKSLASH ? 2 : 1;
        if (i - start > limits.maxStringBytes) {
          throw new JsonBodyError(
            'BadRequest',
            `has a string longer than ${limits.maxStringBytes} bytes (at byte ${start - 1})`,
          );
        }
      }
      i++;
      continue;
    }
    if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > limits.maxDepth) {
        throw new JsonBodyError(
          'BadRequest',
          `nests deeper than ${limits.maxDepth} levels (at byte ${i})`,
        );
      }
      if (++containers > limits.maxContainers) {
        throw new JsonBodyError(
          'PayloadTooLarge',
          `has more than ${limits.maxContainers} objects and arrays`,
        );
      }
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
    }
    i++;
  }
}

/**
 * Parses a request body as JSON within `limits`. An empty (or all-whitespace) body is
 * `undefined`; anything else that is not JSON is a JsonBodyError (400).
 */
export function parseJsonBody(bytes: Uint8Array, limits: JsonLimits): unknown {
  checkJsonBounds(bytes, limits);
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new JsonBodyError('BadRequest', `is not valid JSON: ${(err as Error).message}`);
  }
}
