import { RebalancerError } from '../errors.ts';

/**
 * A failure reported by PostgreSQL (either backend). `code` is its SQLSTATE (`23505`, ...),
 * which callers branch on, or `database_error` when the driver gave none.
 */
export class DatabaseError extends RebalancerError {
  override readonly name = 'DatabaseError';
  readonly code: string;
  readonly detail: string | undefined;

  constructor(message: string, options: { code?: string; detail?: string; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.code = options.code ?? 'database_error';
    this.detail = options.detail;
  }
}

interface PostgresErrorFields {
  message?: unknown;
  code?: unknown;
  detail?: unknown;
}

/** Converts whatever a driver threw into a DatabaseError, keeping the original as the cause. */
export function toDatabaseError(err: unknown, sql: string): DatabaseError {
  if (err instanceof DatabaseError) return err;
  const fields: PostgresErrorFields = typeof err === 'object' && err !== null ? err : {};
  const message = typeof fields.message === 'string' ? fields.message : String(err);
  return new DatabaseError(message, {
    code: typeof fields.code === 'string' ? fields.code : undefined,
    detail: typeof fields.detail === 'string' ? fields.detail : undefined,
    cause: err instanceof Error ? err : new Error(`${message} (query: ${sql.slice(0, 200)})`),
  });
}
