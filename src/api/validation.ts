/**
 * Strict request validation for both services' fastify apps. fastify's default ajv coerces
 * types (`"0x10"` → 16, `false` → 0, `["evacuate"]` → `"evacuate"`) and silently drops keys a
 * schema does not declare; a request the schema forbids then does something else than asked.
 * Here nothing is coerced or removed, and a refusal names the offending key or field.
 */

/** fastify's `ajv` option: no coercion, no removal of unknown keys, no injected defaults. */
export const STRICT_AJV = {
  customOptions: {
    coerceTypes: false,
    removeAdditional: false,
    useDefaults: false,
    allErrors: false,
  },
} as const;

/** The fields of an ajv error this module reads (fastify's FastifySchemaValidationError). */
export interface SchemaError {
  readonly keyword: string;
  readonly instancePath: string;
  readonly params: Record<string, unknown>;
  readonly message?: string | undefined;
}

/** `body` + `/params/max_objects` → `body.params.max_objects`; `/tasks/0` → `tasks[0]`. */
export function fieldPath(dataVar: string, instancePath: string): string {
  let out = dataVar;
  if (instancePath === '') return out;
  for (const raw of instancePath.slice(1).split('/')) {
    const part = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    out += /^[0-9]+$/.test(part) ? `[${part}]` : `.${part}`;
  }
  return out;
}

function describe(error: SchemaError, all: readonly SchemaError[], dataVar: string): string {
  const at = fieldPath(dataVar, error.instancePath);
  const p = error.params;
  switch (error.keyword) {
    case 'additionalProperties':
      return `${at}: unknown key ${JSON.stringify(String(p.additionalProperty))}`;
    case 'required':
      return `${at}: missing required key ${JSON.stringify(String(p.missingProperty))}`;
    case 'const':
      return `${at} must be ${JSON.stringify(p.allowedValue)}`;
    case 'enum':
      return `${at} must be one of ${JSON.stringify(p.allowedValues)}`;
    case 'type': {
      // The branches of an anyOf (integer | null) report one type error each.
      const types = all
        .filter((e) => e.keyword === 'type' && e.instancePath === error.instancePath)
        .map((e) => String(e.params.type));
      return `${at} must be ${[...new Set(types)].join(' or ')}`;
    }
    default:
      return `${at} ${error.message ?? 'is invalid'}`;
  }
}

/**
 * fastify's `schemaErrorFormatter`: one message for the first problem, an unknown key first
 * of all (it is the likeliest mistake, and the one coercing validators hide).
 */
export function schemaErrorFormatter(errors: readonly SchemaError[], dataVar: string): Error {
  const first =
    errors.find((e) => e.keyword === 'additionalProperties') ??
    errors.find((e) => e.keyword !== 'anyOf' && e.keyword !== 'oneOf') ??
    errors[0];
  if (first === undefined) return new Error(`${dataVar} is invalid`);
  return new Error(describe(first, errors, dataVar));
}
