/**
 * LDAP-style filter strings for findObjects (spec/protocols.md §3.7.1), built with escaping so
 * that no value can change the filter's structure: `and(eq('type', 'object'), ge('_id', 10))`
 * → `(&(type=object)(_id>=10))`.
 */

/** A filter; `String(filter)` is its wire form. */
export class Filter {
  constructor(private readonly text: string) {}

  toString(): string {
    return this.text;
  }
}

export type FilterValue = string | number | boolean;

const ATTRIBUTE = /^[-_a-zA-Z0-9]+$/;

function attribute(name: string): string {
  if (!ATTRIBUTE.test(name))
    throw new TypeError(`invalid filter attribute name: ${JSON.stringify(name)}`);
  return name;
}

/** Escapes `(`, `)`, `*`, `\` and NUL as `\XX` hex (RFC 4515), which moray-filter decodes. */
export function escapeFilterValue(value: FilterValue): string {
  let text: string;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`filter value must be finite: ${value}`);
    text = String(value);
  } else {
    text = String(value);
  }
  return text.replace(/[()*\\\0]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export function eq(attr: string, value: FilterValue): Filter {
  return new Filter(`(${attribute(attr)}=${escapeFilterValue(value)})`);
}

export function ge(attr: string, value: FilterValue): Filter {
  return new Filter(`(${attribute(attr)}>=${escapeFilterValue(value)})`);
}

export function le(attr: string, value: FilterValue): Filter {
  return new Filter(`(${attribute(attr)}<=${escapeFilterValue(value)})`);
}

/** `(attr=*)`: the attribute is present. */
export function present(attr: string): Filter {
  return new Filter(`(${attribute(attr)}=*)`);
}

/** Substring match: `(attr=initial*any1*any2*final)`; empty parts are allowed. */
export function substring(attr: string, initial: string, any: string[], final: string): Filter {
  const middle = any.map((a) => `${escapeFilterValue(a)}*`).join('');
  return new Filter(
    `(${attribute(attr)}=${escapeFilterValue(initial)}*${middle}${escapeFilterValue(final)})`,
  );
}

export function and(...filters: Filter[]): Filter {
  if (filters.length === 0) throw new TypeError('and() needs at least one filter');
  return new Filter(`(&${filters.join('')})`);
}

export function or(...filters: Filter[]): Filter {
  if (filters.length === 0) throw new TypeError('or() needs at least one filter');
  return new Filter(`(|${filters.join('')})`);
}

export function not(filter: Filter): Filter {
  return new Filter(`(!${filter})`);
}
