/**
 * Argument validation of Moray RPCs (spec/protocols.md §2.1): exact argument count, then each
 * argument against Moray's JSON schemas, failing with InvocationError whose message reproduces
 * what Moray (ajv 4) reports, e.g.
 * `sql expects "options" (args[2]) to be a valid options object: options.timeout should be >= 0`.
 */
import type { RpcError } from '../../fast/index.ts';
import { invocation } from './errors.ts';

export type ArgType = 'string' | 'object' | 'array' | 'options' | 'requests';

export interface ArgSpec {
  name: string;
  type: ArgType;
}

const DESCRIPTION: Record<ArgType, string> = {
  string: 'a nonempty string',
  object: 'an object',
  array: 'an array',
  options: 'a valid options object',
  requests: 'an array of valid request objects',
};

/** One schema violation: where (`options.sort.order`) and what (`should be string`). */
type Problems = string[];

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const isInteger = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

const UUID_FORMAT = /^(?:urn:uuid:)?[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}$/i;
const DIGITS = /^[0-9]+$/;

function checkString(path: string, v: unknown, out: Problems): v is string {
  if (typeof v !== 'string') {
    out.push(`${path} should be string`);
    return false;
  }
  return true;
}

function checkBoolean(path: string, v: unknown, out: Problems): void {
  if (typeof v !== 'boolean') out.push(`${path} should be boolean`);
}

/** Moray's `object` schema: a non-array object without an own `hasOwnProperty` member. */
function checkObject(path: string, v: unknown, out: Problems): v is Record<string, unknown> {
  if (!isPlainObject(v)) {
    out.push(`${path} should be object`);
    return false;
  }
  return true;
}

function checkNoHasOwnProperty(path: string, v: Record<string, unknown>, out: Problems): void {
  if (Object.hasOwn(v, 'hasOwnProperty')) out.push(`${path}.hasOwnProperty should NOT be valid`);
}

function checkEnum(path: string, v: string, allowed: string[], out: Problems): void {
  if (allowed.includes(v)) return;
  // ajv's allowed values, deduplicated case-insensitively as Moray prints them.
  const seen = new Set<string>();
  const shown: string[] = [];
  for (const a of allowed) {
    const text = JSON.stringify(a);
    if (seen.has(text.toUpperCase())) continue;
    seen.add(text.toUpperCase());
    shown.push(text);
  }
  out.push(`${path} should be equal to one of the allowed values (${shown.join(', ')})`);
}

function checkCount(path: string, v: unknown, out: Problems): void {
  if (typeof v === 'string') {
    if (!DIGITS.test(v)) out.push(`${path} should match pattern "^[0-9]+$"`);
  } else if (isInteger(v)) {
    if (v < 0) out.push(`${path} should be >= 0`);
  } else {
    out.push(`${path} should be integer,string`);
  }
}

function checkSortObject(path: string, v: unknown, out: Problems): void {
  if (!checkObject(path, v, out)) return;
  if (v.attribute !== undefined && !checkString(`${path}.attribute`, v.attribute, out)) return;
  if (v.order !== undefined) {
    if (!checkString(`${path}.order`, v.order, out)) return;
    checkEnum(`${path}.order`, v.order, ['ASC', 'asc', 'DESC', 'desc'], out);
    if (out.length > 0) return;
  }
  checkNoHasOwnProperty(path, v, out);
}

function checkSort(path: string, v: unknown, out: Problems): void {
  // anyOf: an array of sort objects, or one sort object; ajv reports both branches' failures.
  const asArray: Problems = [];
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length && asArray.length === 0; i++) {
      checkSortObject(`${path}[${i}]`, v[i], asArray);
    }
  } else {
    asArray.push(`${path} should be array`);
  }
  if (asArray.length === 0) return;
  const asObject: Problems = [];
  checkSortObject(path, v, asObject);
  if (asObject.length === 0) return;
  out.push(...asArray, ...asObject, `${path} should match some schema in anyOf`);
}

const BOOLEAN_OPTIONS = [
  'noBucketCache',
  'noCache',
  'requireOnlineReindexing',
  'noLimit',
  'no_count',
  'sql_only',
  'requireIndexes',
  'no_reindex',
  'deep',
];

/** Moray's `options` schema; unknown members are allowed. Stops at the first problem, as ajv. */
function checkOptions(path: string, v: unknown, out: Problems): void {
  if (!checkObject(path, v, out)) return;
  const checks: [string, (p: string, x: unknown) => void][] = [
    [
      'timeout',
      (p, x) => {
        if (!isInteger(x)) out.push(`${p} should be integer`);
        else if (x < 0) out.push(`${p} should be >= 0`);
      },
    ],
    [
      'req_id',
      (p, x) => {
        if (!checkString(p, x, out)) return;
        if (x.length > 36) out.push(`${p} should NOT be longer than 36 characters`);
        else if (!UUID_FORMAT.test(x)) out.push(`${p} should match format "uuid"`);
      },
    ],
    [
      'etag',
      (p, x) => {
        if (x !== null && typeof x !== 'string') out.push(`${p} should be null,string`);
      },
    ],
    ['_value', (p, x) => void checkString(p, x, out)],
    [
      'headers',
      (p, x) => {
        if (checkObject(p, x, out)) checkNoHasOwnProperty(p, x, out);
      },
    ],
    ['limit', (p, x) => checkCount(p, x, out)],
    ['offset', (p, x) => checkCount(p, x, out)],
    ['sort', (p, x) => checkSort(p, x, out)],
    [
      'internalOpts',
      (p, x) => {
        if (!checkObject(p, x, out)) return;
        if (x.sendHandledOptions !== undefined) {
          checkBoolean(`${p}.sendHandledOptions`, x.sendHandledOptions, out);
        }
      },
    ],
    ...BOOLEAN_OPTIONS.map((name): [string, (p: string, x: unknown) => void] => [
      name,
      (p, x) => checkBoolean(p, x, out),
    ]),
  ];
  for (const [name, check] of checks) {
    if (v[name] === undefined) continue;
    check(`${path}.${name}`, v[name]);
    if (out.length > 0) return;
  }
  checkNoHasOwnProperty(path, v, out);
}

const OPERATIONS = ['put', 'delete', 'update', 'deleteMany'];

function checkRequest(path: string, v: unknown, out: Problems): void {
  if (!checkObject(path, v, out)) return;
  if (v.bucket === undefined) {
    out.push(`${path} should have required property 'bucket'`);
    return;
  }
  if (v.operation !== undefined) {
    if (!checkString(`${path}.operation`, v.operation, out)) return;
    checkEnum(`${path}.operation`, v.operation, OPERATIONS, out);
    if (out.length > 0) return;
  }
  for (const name of ['bucket', 'key', 'filter']) {
    if (v[name] !== undefined && !checkString(`${path}.${name}`, v[name], out)) return;
  }
  for (const name of ['fields', 'value']) {
    const member = v[name];
    if (member === undefined) continue;
    if (!checkObject(`${path}.${name}`, member, out)) return;
    checkNoHasOwnProperty(`${path}.${name}`, member, out);
    if (out.length > 0) return;
  }
  if (v.options !== undefined) {
    checkOptions(`${path}.options`, v.options, out);
    if (out.length > 0) return;
  }
  checkNoHasOwnProperty(path, v, out);
}

function problems(name: string, type: ArgType, v: unknown): Problems {
  const out: Problems = [];
  switch (type) {
    case 'string':
      if (checkString(name, v, out) && v.length < 1) {
        out.push(`${name} should NOT be shorter than 1 characters`);
      }
      break;
    case 'object':
      if (checkObject(name, v, out)) checkNoHasOwnProperty(name, v, out);
      break;
    case 'array':
      if (!Array.isArray(v)) out.push(`${name} should be array`);
      break;
    case 'options':
      checkOptions(name, v, out);
      break;
    case 'requests':
      if (!Array.isArray(v)) {
        out.push(`${name} should be array`);
        break;
      }
      for (let i = 0; i < v.length && out.length === 0; i++)
        checkRequest(`${name}[${i}]`, v[i], out);
      break;
  }
  return out;
}

/** The InvocationError for a bad argument list, or undefined when the arguments are valid. */
export function invalidArguments(
  method: string,
  args: readonly unknown[],
  specs: readonly ArgSpec[],
): RpcError | undefined {
  if (args.length !== specs.length) {
    const n = specs.length;
    return invocation(`${method} expects ${n} argument${n === 1 ? '' : 's'}`);
  }
  for (let i = 0; i < specs.length; i++) {
    const spec = specs[i]!;
    const found = problems(spec.name, spec.type, args[i]);
    if (found.length > 0) {
      return invocation(
        `${method} expects "${spec.name}" (args[${i}]) to be ${DESCRIPTION[spec.type]}: ${found.join(', ')}`,
      );
    }
  }
  return undefined;
}

/** Options after validation; members Moray does not know are kept but not typed. */
export interface MorayOptions {
  req_id?: string;
  timeout?: number;
  etag?: string | null;
  _etag?: unknown;
  headers?: Record<string, unknown>;
  noCache?: boolean;
  noBucketCache?: boolean;
  limit?: number | string;
  noLimit?: boolean;
  offset?: number | string;
  sort?: SortSpec | SortSpec[];
  no_count?: boolean;
  sql_only?: boolean;
  requireIndexes?: boolean;
  requireOnlineReindexing?: boolean;
  internalOpts?: { sendHandledOptions?: boolean };
  no_reindex?: boolean;
  deep?: boolean;
  [other: string]: unknown;
}

export interface SortSpec {
  attribute?: string;
  order?: string;
}
