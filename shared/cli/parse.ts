import { InputError } from '../errors.ts';
import { isoInstantRefusal, parseIsoInstant } from '../job.ts';

/** Parses an ISO 8601 instant given on the command line. @throws InputError naming the flag. */
export function parseInstantFlag(flag: string, value: string | undefined): Date {
  if (value === undefined)
    throw new InputError(`${flag} is required (an ISO 8601 instant such as 2026-03-01T00:00:00Z)`);
  const date = parseIsoInstant(value);
  if (!date) throw new InputError(isoInstantRefusal(flag, value));
  return date;
}

/** Parses a JSON object given on the command line. @throws InputError naming the flag. */
export function parseJsonFlag(flag: string, value: string | undefined): unknown {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value);
  } catch {
    throw new InputError(`${flag} must be JSON, for example '{"region":"eu"}'`);
  }
}
