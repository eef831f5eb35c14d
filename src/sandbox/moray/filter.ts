/**
 * Moray's LDAP-style filters (spec/protocols.md §3.7.1): parsing, printing, and the JavaScript
 * matcher every candidate row must also satisfy (§3.7.3).
 */
import { RebalancerError } from '../../errors.ts';

export type Filter =
  | { type: 'and' | 'or'; filters: Filter[] }
  | { type: 'not'; filter: Filter }
  | { type: 'present'; attribute: string }
  | { type: 'equal' | 'ge' | 'le'; attribute: string; value: string }
  | { type: 'substring'; attribute: string; initial: string; any: string[]; final: string };

export class FilterSyntaxError extends RebalancerError {
  override readonly name = 'FilterSyntaxError';
  readonly code = 'filter_syntax';
}

const ATTRIBUTE = /^[-_a-zA-Z0-9]+$/;

/** Parses a filter; a string without the outer parentheses is wrapped first, as Moray does. */
export function parseFilter(text: string): Filter {
  const source = text.startsWith('(') ? text : `(${text})`;
  const parser = new Parser(source);
  const filter = parser.filter();
  if (parser.pos !== source.length) throw new FilterSyntaxError(`trailing text in ${text}`);
  return filter;
}

class Parser {
  pos = 0;
  constructor(private readonly s: string) {}

  filter(): Filter {
    this.expect('(');
    const c = this.s[this.pos];
    let result: Filter;
    if (c === '&' || c === '|') {
      this.pos++;
      const filters: Filter[] = [];
      while (this.s[this.pos] === '(') filters.push(this.filter());
      if (filters.length === 0) throw new FilterSyntaxError('empty filter list');
      result = { type: c === '&' ? 'and' : 'or', filters };
    } else if (c === '!') {
      this.pos++;
      result = { type: 'not', filter: this.filter() };
    } else {
      result = this.item();
    }
    this.expect(')');
    return result;
  }

  private expect(c: string): void {
    if (this.s[this.pos] !== c) throw new FilterSyntaxError(`expected ${c} at ${this.pos}`);
    this.pos++;
  }

  private item(): Filter {
    const start = this.pos;
    while (this.pos < this.s.length && !'=<>~:()'.includes(this.s[this.pos]!)) this.pos++;
    const attribute = this.s.slice(start, this.pos);
    if (!ATTRIBUTE.test(attribute)) throw new FilterSyntaxError(`bad attribute "${attribute}"`);
    let op: '=' | '>=' | '<=';
    if (this.s.startsWith('>=', this.pos)) op = '>=';
    else if (this.s.startsWith('<=', this.pos)) op = '<=';
    else if (this.s[this.pos] === '=') op = '=';
    // Approximate (~=) and extensible (attr:rule:=) matches are not supported by this stand-in.
    else throw new FilterSyntaxError(`unsupported operator at ${this.pos}`);
    this.pos += op.length;
    const parts = this.value();
    if (op !== '=') {
      if (parts.length !== 1) throw new FilterSyntaxError('wildcard in an ordering match');
      return { type: op === '>=' ? 'ge' : 'le', attribute, value: parts[0]! };
    }
    if (parts.length === 1) return { type: 'equal', attribute, value: parts[0]! };
    if (parts.length === 2 && parts[0] === '' && parts[1] === '') {
      return { type: 'present', attribute };
    }
    return {
      type: 'substring',
      attribute,
      initial: parts[0]!,
      any: parts.slice(1, -1).filter((p) => p !== ''),
      final: parts[parts.length - 1]!,
    };
  }

  /** The value up to the closing parenthesis, unescaped and split at unescaped `*`. */
  private value(): string[] {
    const parts: string[] = [];
    let current = '';
    for (;;) {
      const c = this.s[this.pos];
      if (c === undefined) throw new FilterSyntaxError('unterminated filter');
      if (c === ')') break;
      if (c === '(') throw new FilterSyntaxError(`unescaped ( at ${this.pos}`);
      this.pos++;
      if (c === '*') {
        parts.push(current);
        current = '';
      } else if (c === '\\') {
        const next = this.s[this.pos];
        if (next !== undefined && '()*\\='.includes(next)) {
          current += next;
          this.pos++;
        } else {
          const hex = this.s.slice(this.pos, this.pos + 2);
          if (!/^[0-9a-fA-F]{2}$/.test(hex))
            throw new FilterSyntaxError(`bad escape at ${this.pos}`);
          current += String.fromCharCode(Number.parseInt(hex, 16));
          this.pos += 2;
        }
      } else {
        current += c;
      }
    }
    parts.push(current);
    return parts;
  }
}

function escapeValue(value: string): string {
  return value.replace(/[\\*()]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** The filter as text (used in NotIndexedError messages). */
export function filterToString(f: Filter): string {
  switch (f.type) {
    case 'and':
      return `(&${f.filters.map(filterToString).join('')})`;
    case 'or':
      return `(|${f.filters.map(filterToString).join('')})`;
    case 'not':
      return `(!${filterToString(f.filter)})`;
    case 'present':
      return `(${f.attribute}=*)`;
    case 'equal':
      return `(${f.attribute}=${escapeValue(f.value)})`;
    case 'ge':
      return `(${f.attribute}>=${escapeValue(f.value)})`;
    case 'le':
      return `(${f.attribute}<=${escapeValue(f.value)})`;
    case 'substring': {
      const middle = f.any.map((a) => `${escapeValue(a)}*`).join('');
      return `(${f.attribute}=${escapeValue(f.initial)}*${middle}${escapeValue(f.final)})`;
    }
  }
}

/** Every attribute a filter names. */
export function filterAttributes(f: Filter, out: Set<string> = new Set()): Set<string> {
  switch (f.type) {
    case 'and':
    case 'or':
      for (const sub of f.filters) filterAttributes(sub, out);
      break;
    case 'not':
      filterAttributes(f.filter, out);
      break;
    default:
      out.add(f.attribute);
  }
  return out;
}

/** A record member by attribute name: exact name first, then case-insensitively. */
export type MemberLookup = (attribute: string) => unknown;

/** Converts a leaf's filter value for comparison with a member (index type or internal field). */
export type ValueConverter = (attribute: string, value: string) => unknown;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function anyOf(member: unknown, test: (v: unknown) => boolean): boolean {
  return Array.isArray(member) ? member.some(test) : test(member);
}

/**
 * Does the record satisfy the filter, by moray-filter's rules: strict equality against the converted
 * filter value, JavaScript relational comparison, any element of an array member.
 */
export function matchesFilter(f: Filter, get: MemberLookup, convert: ValueConverter): boolean {
  switch (f.type) {
    case 'and':
      return f.filters.every((sub) => matchesFilter(sub, get, convert));
    case 'or':
      return f.filters.some((sub) => matchesFilter(sub, get, convert));
    case 'not':
      return !matchesFilter(f.filter, get, convert);
    case 'present':
      return get(f.attribute) !== undefined;
    case 'equal': {
      const want = convert(f.attribute, f.value);
      return anyOf(get(f.attribute), (v) => v === want);
    }
    case 'ge': {
      const want = convert(f.attribute, f.value) as number | string;
      return anyOf(get(f.attribute), (v) => want <= (v as number | string));
    }
    case 'le': {
      const want = convert(f.attribute, f.value) as number | string;
      return anyOf(get(f.attribute), (v) => want >= (v as number | string));
    }
    case 'substring': {
      const pattern = substringPattern(f);
      return anyOf(
        get(f.attribute),
        (v) => v !== undefined && v !== null && pattern.test(String(v)),
      );
    }
  }
}

const patterns = new WeakMap<Filter, RegExp>();

function substringPattern(f: Filter & { type: 'substring' }): RegExp {
  let pattern = patterns.get(f);
  if (pattern === undefined) {
    const middle = f.any.map((a) => `${escapeRegExp(a)}.*`).join('');
    pattern = new RegExp(`^${escapeRegExp(f.initial)}.*${middle}${escapeRegExp(f.final)}$`, 's');
    patterns.set(f, pattern);
  }
  return pattern;
}
