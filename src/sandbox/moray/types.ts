/**
 * Moray index types (spec/protocols.md §3.3): the PostgreSQL column each maps to, how a value is
 * converted when written to the column, and how a filter value is converted for SQL and for the
 * JavaScript re-check.
 */
import { invalidIndexType } from './errors.ts';

interface ScalarType {
  pg: string;
  /** Converts a value for the column; undefined means NULL (Moray's NaN → NULL for numbers). */
  toColumn(field: string, type: string, value: unknown): unknown;
  /** A filter's string value as the SQL parameter and as the JS comparand. */
  fromFilter(value: string): unknown;
  /** A column value read back, as Moray's node-postgres returned it. */
  fromColumn(value: unknown): unknown;
}

const identity = (v: unknown): unknown => v;

const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const SCALARS: Record<string, ScalarType> = {
  string: {
    pg: 'TEXT',
    toColumn: (_f, _t, v) => String(v),
    fromFilter: identity,
    fromColumn: identity,
  },
  number: {
    pg: 'NUMERIC',
    toColumn: (_f, _t, v) => {
      const n = Number.parseFloat(String(v));
      return Number.isNaN(n) ? undefined : n;
    },
    fromFilter: (v) => Number.parseFloat(v),
    // Moray's pg loads pg-parse-float: NUMERIC columns come back as numbers.
    fromColumn: (v) => (typeof v === 'string' ? Number.parseFloat(v) : v),
  },
  boolean: {
    pg: 'BOOLEAN',
    toColumn: (f, t, v) => {
      const s = String(v).toUpperCase();
      if (s === 'TRUE') return true;
      if (s === 'FALSE') return false;
      throw invalidIndexType(f, t);
    },
    fromFilter: (v) => {
      const s = v.toUpperCase();
      return s === 'TRUE' ? true : s === 'FALSE' ? false : v;
    },
    fromColumn: identity,
  },
  date: {
    pg: 'TIMESTAMPTZ',
    toColumn: (f, t, v) => {
      if (typeof v !== 'string' || !ISO_DATE.test(v)) throw invalidIndexType(f, t);
      return v;
    },
    fromFilter: identity,
    fromColumn: (v) => (v instanceof Date ? v.toISOString() : v),
  },
  uuid: {
    pg: 'UUID',
    toColumn: (f, t, v) => {
      if (typeof v !== 'string' || !UUID.test(v)) throw invalidIndexType(f, t);
      return v;
    },
    fromFilter: identity,
    fromColumn: identity,
  },
  ip: {
    pg: 'INET',
    toColumn: (_f, _t, v) => String(v),
    fromFilter: identity,
    fromColumn: identity,
  },
  subnet: {
    pg: 'CIDR',
    toColumn: (_f, _t, v) => String(v),
    fromFilter: identity,
    fromColumn: identity,
  },
  mac: {
    pg: 'MACADDR',
    toColumn: (_f, _t, v) => String(v),
    fromFilter: identity,
    fromColumn: identity,
  },
};

export interface IndexType {
  readonly name: string;
  readonly pg: string;
  readonly array: boolean;
  /** BTREE for scalars, GIN for arrays. */
  readonly method: 'BTREE' | 'GIN';
  readonly scalar: ScalarType;
}

const TYPES = new Map<string, IndexType>();
for (const [name, scalar] of Object.entries(SCALARS)) {
  TYPES.set(name, { name, pg: scalar.pg, array: false, method: 'BTREE', scalar });
  TYPES.set(`[${name}]`, {
    name: `[${name}]`,
    pg: `${scalar.pg}[]`,
    array: true,
    method: 'GIN',
    scalar,
  });
}

export const INDEX_TYPE_NAMES: readonly string[] = [...TYPES.keys()];

export function indexType(name: string): IndexType | undefined {
  return TYPES.get(name);
}

/** A PostgreSQL array literal, quoting elements as Moray does (`{"a,b","c"}`). */
function arrayLiteral(items: unknown[]): string {
  const parts = items.map((item) => {
    if (item === null || item === undefined) return 'NULL';
    const text = String(item);
    return `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
  });
  return `{${parts.join(',')}}`;
}

/**
 * The column value for a field of the stored value (`indexObject`): undefined → NULL. Arrays in
 * scalar-typed fields are stored joined by commas, as `String(array)` does in Moray.
 */
export function toColumnValue(field: string, type: IndexType, value: unknown): unknown {
  if (value === undefined || value === null) return null;
  if (type.array) {
    const items = Array.isArray(value) ? value : [value];
    return arrayLiteral(
      items.map((item) => (item === null ? null : type.scalar.toColumn(field, type.name, item))),
    );
  }
  const converted = type.scalar.toColumn(field, type.name, value);
  return converted === undefined ? null : converted;
}

/** A column value as Moray puts it back into a record's `value`. */
export function fromColumnValue(type: IndexType, value: unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => type.scalar.fromColumn(v));
  return type.scalar.fromColumn(value);
}
