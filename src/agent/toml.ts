/**
 * A small TOML reader for the agent's flat config file (agent.md §5.1): `[table]`
 * headers, `key = value` with basic/literal strings, integers, floats, booleans and
 * one-line arrays of those, and `#` comments. Anything else is an error with its line.
 */
import { RebalancerError } from '../errors.ts';

export type TomlValue = string | number | boolean | TomlValue[];
export type TomlTable = Record<string, TomlValue | Record<string, TomlValue>>;

export class TomlError extends RebalancerError {
  override readonly name = 'TomlError';
  readonly code = 'toml_syntax';
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
  }
}

const BARE_KEY = /^[A-Za-z0-9_-]+$/;

class Cursor {
  pos = 0;
  constructor(
    readonly text: string,
    readonly line: number,
  ) {}

  fail(message: string): never {
    throw new TomlError(this.line, message);
  }

  skipSpace(): void {
    while (
      this.pos < this.text.length &&
      (this.text[this.pos] === ' ' || this.text[this.pos] === '\t')
    ) {
      this.pos++;
    }
  }

  /** True when only whitespace or a comment is left. */
  atEnd(): boolean {
    this.skipSpace();
    return this.pos >= this.text.length || this.text[this.pos] === '#';
  }
}

const ESCAPES: Record<string, string> = {
  b: '\b',
  t: '\t',
  n: '\n',
  f: '\f',
  r: '\r',
  '"': '"',
  '\\': '\\',
};

function parseBasicString(c: Cursor): string {
  c.pos++; // opening quote
  let out = '';
  while (c.pos < c.text.length) {
    const ch = c.text[c.pos++]!;
    if (ch === '"') return out;
    if (ch !== '\\') {
      out += ch;
      continue;
    }
    const esc = c.text[c.pos++];
    if (esc === 'u' || esc === 'U') {
      const len = esc === 'u' ? 4 : 8;
      const hex = c.text.slice(c.pos, c.pos + len);
      if (!/^[0-9A-Fa-f]+$/.test(hex) || hex.length !== len) c.fail('bad unicode escape');
      out += String.fromCodePoint(Number.parseInt(hex, 16));
      c.pos += len;
    } else if (esc !== undefined && ESCAPES[esc] !== undefined) {
      out += ESCAPES[esc];
    } else {
      c.fail(`bad escape \\${esc ?? ''}`);
    }
  }
  return c.fail('unterminated string');
}

function parseLiteralString(c: Cursor): string {
  const end = c.text.indexOf("'", c.pos + 1);
  if (end < 0) c.fail('unterminated string');
  const out = c.text.slice(c.pos + 1, end);
  c.pos = end + 1;
  return out;
}

function parseValue(c: Cursor): TomlValue {
  c.skipSpace();
  const ch = c.text[c.pos];
  if (ch === '"') {
    if (c.text.startsWith('"""', c.pos)) c.fail('multi-line strings are not supported');
    return parseBasicString(c);
  }
  if (ch === "'") {
    if (c.text.startsWith("'''", c.pos)) c.fail('multi-line strings are not supported');
    return parseLiteralString(c);
  }
  if (ch === '[') {
    c.pos++;
    const items: TomlValue[] = [];
    for (;;) {
      c.skipSpace();
      if (c.text[c.pos] === ']') {
        c.pos++;
        return items;
      }
      items.push(parseValue(c));
      c.skipSpace();
      if (c.text[c.pos] === ',') c.pos++;
      else if (c.text[c.pos] !== ']') c.fail('expected , or ] in array');
    }
  }
  const m = /^[^\s,\]#]+/.exec(c.text.slice(c.pos));
  if (!m) return c.fail('missing value');
  const token = m[0];
  c.pos += token.length;
  if (token === 'true') return true;
  if (token === 'false') return false;
  if (/^[+-]?(0|[1-9](_?[0-9])*)$/.test(token)) return Number(token.replaceAll('_', ''));
  if (/^0x[0-9A-Fa-f](_?[0-9A-Fa-f])*$/.test(token))
    return Number.parseInt(token.slice(2).replaceAll('_', ''), 16);
  if (/^[+-]?(0|[1-9](_?[0-9])*)(\.[0-9](_?[0-9])*)?([eE][+-]?[0-9]+)?$/.test(token)) {
    return Number(token.replaceAll('_', ''));
  }
  return c.fail(`unsupported value ${JSON.stringify(token)}`);
}

function parseKey(c: Cursor): string {
  c.skipSpace();
  const ch = c.text[c.pos];
  if (ch === '"') return parseBasicString(c);
  if (ch === "'") return parseLiteralString(c);
  const m = /^[A-Za-z0-9_-]+/.exec(c.text.slice(c.pos));
  if (!m) return c.fail('expected a key');
  c.pos += m[0].length;
  return m[0];
}

/** Parses the TOML subset into nested plain objects (one level of tables). */
export function parseToml(text: string): TomlTable {
  const root: TomlTable = {};
  let table: Record<string, TomlValue> = root as Record<string, TomlValue>;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const c = new Cursor(lines[i]!, i + 1);
    if (c.atEnd()) continue;
    if (c.text[c.pos] === '[') {
      const close = c.text.indexOf(']', c.pos);
      if (close < 0) c.fail('unterminated table header');
      if (c.text[c.pos + 1] === '[') c.fail('arrays of tables are not supported');
      const name = c.text.slice(c.pos + 1, close).trim();
      if (!BARE_KEY.test(name)) c.fail(`unsupported table name ${JSON.stringify(name)}`);
      if (name in root) c.fail(`table [${name}] defined twice`);
      table = {};
      root[name] = table;
      c.pos = close + 1;
      if (!c.atEnd()) c.fail('unexpected text after table header');
      continue;
    }
    const key = parseKey(c);
    c.skipSpace();
    if (c.text[c.pos] !== '=') c.fail(`expected = after ${key}`);
    c.pos++;
    const value = parseValue(c);
    if (!c.atEnd()) c.fail('unexpected text after value');
    if (key in table) c.fail(`key ${key} defined twice`);
    table[key] = value;
  }
  return root;
}
