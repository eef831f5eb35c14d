/**
 * Moray's mapping of PostgreSQL errors to RPC errors (`pgError`, spec/protocols.md §2.13):
 * unique violations → UniqueAttributeError, syntax errors → InternalError "Invalid SQL: ...",
 * anything else forwarded as node-postgres raised it (name "error", PostgreSQL's message).
 */
import { DatabaseError } from '../../db/index.ts';
import { RpcError } from '../../fast/index.ts';
import { internal, queryTimeout, uniqueAttribute } from './errors.ts';

export function pgError(err: unknown, sql?: string): unknown {
  if (!(err instanceof DatabaseError)) return err;
  switch (err.code) {
    case '23505': {
      const m = /\((.*)\)=\((.*)\)/.exec(err.detail ?? '');
      if (/violates unique constraint/.test(err.message) && m) return uniqueAttribute(m[1]!, m[2]!);
      break;
    }
    case '42601':
    case '42701':
      return internal(`Invalid SQL: ${err.message}`);
    case '57014':
      // statement_timeout fired: Moray's per-request `timeout` option.
      if (sql !== undefined) return queryTimeout(sql);
      break;
  }
  return new RpcError('error', err.message);
}
