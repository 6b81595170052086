/**
 * Secret fields of a job's config schema: `secret(z.string())` (or `.meta({ secret: true })`, which is
 * what `secret` does) marks a field whose value must never be printed. Once a config is parsed, the
 * values of its secret fields are registered with the redactor, so logs, recorded errors and the CLI
 * show `<redacted>` instead.
 */
import { z } from 'zod';
import { registerSecret } from './telemetry.ts';

/** The metadata that marks a schema secret, in zod's global registry. */
interface SecretMeta {
  readonly secret?: boolean;
}

/**
 * Marks a config field secret: its value is redacted wherever Piko prints or logs it.
 * @example config: z.object({ apiKey: secret(z.string()), region: z.string().default('eu') })
 */
export function secret<T extends z.ZodType>(schema: T): T {
  return schema.meta({ ...(schema.meta() ?? {}), secret: true }) as T;
}

/** True when `schema` itself is marked secret (with {@link secret} or `.meta({ secret: true })`). */
export function isSecretSchema(schema: z.ZodType): boolean {
  return (z.globalRegistry.get(schema) as SecretMeta | undefined)?.secret === true;
}

/** Deepest schema nesting walked (recursive schemas through `z.lazy` stop here). */
const MAX_DEPTH = 16;

/**
 * Visits each part of `value` that a secret field of `schema` holds, through objects, arrays,
 * records, unions, optional / nullable / default wrappers, pipes and lazy schemas.
 */
function visitSecrets(
  schema: z.ZodType,
  value: unknown,
  visit: (secretValue: unknown) => void,
  depth = 0,
): void {
  if (depth > MAX_DEPTH || value === undefined) return;
  if (isSecretSchema(schema)) {
    visit(value);
    return;
  }
  const next = (inner: unknown, innerValue: unknown) =>
    inner instanceof z.ZodType && visitSecrets(inner, innerValue, visit, depth + 1);
  if (schema instanceof z.ZodObject) {
    if (typeof value !== 'object' || value === null) return;
    for (const [key, field] of Object.entries(schema.shape))
      next(field, (value as Record<string, unknown>)[key]);
  } else if (schema instanceof z.ZodArray) {
    if (Array.isArray(value)) for (const item of value) next(schema.element, item);
  } else if (schema instanceof z.ZodRecord) {
    if (typeof value === 'object' && value !== null)
      for (const item of Object.values(value)) next(schema.valueType, item);
  } else if (schema instanceof z.ZodUnion) {
    for (const option of schema.options) next(option, value);
  } else if (schema instanceof z.ZodIntersection) {
    next(schema.def.left, value);
    next(schema.def.right, value);
  } else if (schema instanceof z.ZodPipe) {
    next(schema.in, value);
    next(schema.out, value);
  } else if (schema instanceof z.ZodLazy) {
    next(schema.def.getter(), value);
  } else if ('innerType' in schema.def) {
    // optional, nullable, default, prefault, readonly, catch, nonoptional: one wrapped schema.
    next(schema.def.innerType, value);
  }
}

/** Every string (and number) inside a value, for the redactor. */
function textsIn(value: unknown, depth = 0): string[] {
  if (typeof value === 'string') return [value];
  if (typeof value === 'number' || typeof value === 'bigint') return [String(value)];
  if (typeof value !== 'object' || value === null || depth > MAX_DEPTH) return [];
  return Object.values(value).flatMap((item) => textsIn(item, depth + 1));
}

/** The texts held by the secret fields of `schema` in `value` (parsed or not). */
export function secretConfigValues(schema: z.ZodType, value: unknown): string[] {
  const texts: string[] = [];
  visitSecrets(schema, value, (secretValue) => texts.push(...textsIn(secretValue)));
  return texts;
}

/**
 * Registers the values of the secret fields of `schema` in `value` with the redactor (see
 * `registerSecret`): from then on they are removed from every log line and recorded error.
 */
export function registerConfigSecrets(schema: z.ZodType, value: unknown): void {
  for (const text of secretConfigValues(schema, value)) registerSecret(text);
}
