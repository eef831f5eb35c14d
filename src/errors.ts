/**
 * The one base of every error this project throws, as undici and fastify do: a stable,
 * machine-readable `code` (snake_case, unique across the project; a few older classes keep
 * the code they already had, which tests, logs or wire bodies rely on) and `name` = the
 * class name. A leaf: it imports nothing, so every module may import it.
 *
 * A class's `code` names the failure inside the program. HTTP answers carry their own
 * codes (`BadRequest`, `NotFound`, ...: L's wire values, in src/api), which each server maps
 * from these classes through its one `code -> status` table.
 */
export abstract class RebalancerError extends Error {
  abstract readonly code: string;

  constructor(message?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}
