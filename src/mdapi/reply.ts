/**
 * Reading a buckets-mdapi reply: every DATA value is first checked for the wrapped error
 * form (which becomes its typed error), then validated against the RPC's reply schema.
 */
import type { Static, TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { MdapiProtocolError, serverError, wrappedError } from './errors.ts';

export interface ReplyReader<T> {
  /** The one value of a single-value reply. */
  one(values: readonly unknown[], method: string, shard: string): T;
  /** Every value of a list reply (one DATA message per row). */
  each(values: readonly unknown[], method: string, shard: string): T[];
}

/** Throws the typed error of `value` when it is an application error reply. */
export function throwIfError(value: unknown, method: string, shard: string): void {
  const error = wrappedError(value);
  if (error) throw serverError(error.name, error.message, { method, shard });
}

export function replyReader<S extends TSchema>(schema: S, what: string): ReplyReader<Static<S>> {
  const compiled = Compile(schema);
  const check = (value: unknown, method: string, shard: string): Static<S> => {
    throwIfError(value, method, shard);
    if (compiled.Check(value)) return value;
    const [first] = compiled.Errors(value);
    const path = first?.instancePath.replace(/^\//, '').replaceAll('/', '.') ?? '';
    // A missing member is reported on its parent: name the member itself.
    const missing = (first?.params as { requiredProperties?: unknown } | undefined)
      ?.requiredProperties;
    const member = Array.isArray(missing) && missing.length > 0 ? String(missing[0]) : '';
    const field = [path, member].filter((p) => p !== '').join('.');
    throw new MdapiProtocolError(
      `${what}${field ? ` field "${field}"` : ''} ${first?.message ?? 'is invalid'}`,
      field || what,
      { method, shard },
    );
  };
  return {
    one(values, method, shard) {
      if (values.length !== 1) {
        throw new MdapiProtocolError(`expected 1 value, got ${values.length}`, 'd', {
          method,
          shard,
        });
      }
      return check(values[0], method, shard);
    },
    each(values, method, shard) {
      return values.map((v) => check(v, method, shard));
    },
  };
}
