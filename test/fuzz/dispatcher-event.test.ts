/**
 * The dispatcher's events, fuzzed: `parseControlEvent` and the `functions/dispatcher.ts` handler. The
 * handler reads its environment at load time, so it is set before the import: a state database that
 * refuses connections (127.0.0.1:1) and fake static AWS credentials (IAM tokens are signed offline).
 * Valid events therefore fail on the store, and invalid ones must fail before it.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseControlEvent } from '../../shared/control/events.ts';
import { InputError } from '../../shared/errors.ts';
import { logger } from '../../shared/telemetry.ts';
import {
  FuzzCounts,
  fuzzRuns,
  fuzzTimeoutMs,
  HOSTILE_INSTANTS,
  hostileString,
  isoInstant,
} from './arbitraries.ts';

const counts = new FuzzCounts('dispatcher event');
for (const name of Object.keys(process.env))
  if (name.startsWith('PIKO_') && !name.startsWith('PIKO_TEST_')) delete process.env[name];
Object.assign(process.env, {
  PIKO_MYSQL__DSN: 'mysql://piko_dispatcher@127.0.0.1:1/piko',
  PIKO_MYSQL__IAM_AUTH: 'true',
  PIKO_AWS__STACK_NAME: 'Piko',
  PIKO_LOG_LEVEL: 'error',
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'AKIAFUZZFUZZFUZZFUZZ',
  AWS_SECRET_ACCESS_KEY: 'fuzz/fuzz/fuzz/fuzz/fuzz/fuzz/fuzz/fuzz0',
});

const NOW = new Date('2026-06-01T00:00:00.000Z');
/**
 * Runs per property in `npm test` (fixed seed, see fuzzRuns): enough to hit every branch the counts
 * print, few enough to end in seconds on a busy machine. `bench/fuzz-heavy.ts` runs 5 times more.
 */
const PURE_RUNS = 200;
const HANDLER_RUNS = 60;
/** Each test ends in about a second when the machine is quiet; this bounds it on a loaded one. */
const TEST_TIMEOUT_MS = fuzzTimeoutMs(120_000);
/** Errors that mean a check was missing and the event got deep inside before failing. */
const UNCLEAR = ['TypeError', 'RangeError', 'SyntaxError', 'ReferenceError', 'URIError'];
const context = {
  invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:Piko-Dispatcher',
  getRemainingTimeInMillis: () => 60_000,
};
let handler: (event: unknown, ctx: typeof context) => Promise<unknown>;

const jobIdArb = fc.constantFrom('store_totals', 'nightly_archive', 'a', 'a'.repeat(40), 'unknown_job');
const requestArb = fc.record(
  {
    jobId: jobIdArb,
    from: isoInstant(NOW),
    to: isoInstant(NOW),
    reprocess: fc.constantFrom('missing', 'failed', 'all'),
    dryRun: fc.boolean(),
    reverse: fc.boolean(),
    config: fc.constantFrom(null, { currency: 'USD' }),
  },
  { requiredKeys: ['jobId', 'from', 'to'] },
);

/** Every kind of event the dispatcher accepts, well-formed. */
const validEventArb: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc.record({ jobId: jobIdArb }),
  fc.record({ action: fc.constantFrom('dispatch', 'continue', 'pause', 'resume'), jobId: jobIdArb }),
  fc.record({ action: fc.constant('status'), jobId: jobIdArb }, { requiredKeys: ['action'] }),
  fc.record({ action: fc.constant('backfill-plan'), request: requestArb }),
  fc.record({
    action: fc.constant('backfill-next'),
    jobId: jobIdArb,
    backfillId: fc.constantFrom('bf-0123456789abcdef0123', 'bf-x'),
    reverse: fc.boolean(),
  }),
);

const junkJson: fc.Arbitrary<unknown> = fc.oneof(
  hostileString(),
  fc.constantFrom(...HOSTILE_INSTANTS),
  fc.constantFrom(0, -1, 1.5, 1e308, null, true, false, [], {}, 'dispatch', 'backfill-plan', 'DISPATCH'),
  fc.jsonValue({ maxDepth: 2 }),
);
const PATHS = [
  ['action'],
  ['jobId'],
  ['request'],
  ['request', 'jobId'],
  ['request', 'from'],
  ['request', 'to'],
  ['request', 'reprocess'],
  ['request', 'dryRun'],
  ['request', 'reverse'],
  ['request', 'config'],
  ['request', 'dryrun'],
  ['backfillId'],
  ['reverse'],
  ['__proto__'],
  ['constructor'],
  ['extra'],
];

/** A valid event with one to three fields replaced by junk, removed, or added. */
const nearMissArb = fc
  .tuple(
    validEventArb,
    fc.array(fc.tuple(fc.constantFrom(...PATHS), fc.option(junkJson, { nil: undefined })), {
      minLength: 1,
      maxLength: 3,
    }),
  )
  .map(([event, edits]) => {
    // Through JSON text, as Lambda delivers it: `__proto__` becomes an own key.
    const copy = JSON.parse(JSON.stringify(event)) as Record<string, unknown>;
    for (const [path, value] of edits) setPath(copy, path, value);
    return JSON.parse(JSON.stringify(copy)) as unknown;
  });

const anyEventArb = fc.oneof(
  { weight: 4, arbitrary: nearMissArb },
  { weight: 1, arbitrary: validEventArb },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: hostileString() },
);

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node: unknown = target;
  for (const key of path.slice(0, -1)) {
    if (typeof node !== 'object' || node === null) return;
    node = (node as Record<string, unknown>)[key];
  }
  if (typeof node !== 'object' || node === null) return;
  const last = path[path.length - 1]!;
  if (value === undefined) delete (node as Record<string, unknown>)[last];
  else Object.defineProperty(node, last, { value, enumerable: true, configurable: true, writable: true });
}

describe('the dispatcher event, fuzzed', () => {
  beforeAll(async () => {
    ({ handler } = (await import('../../functions/dispatcher.ts')) as unknown as { handler: typeof handler });
    logger.setLogLevel('CRITICAL');
  }, TEST_TIMEOUT_MS);

  it(
    'parseControlEvent returns an event that parses to itself again, or an InputError naming the problems',
    () => {
      fc.assert(
        fc.property(fc.oneof(anyEventArb, fc.anything()), (event) => {
          counts.tick('parseControlEvent: any value');
          let parsed: ReturnType<typeof parseControlEvent>;
          try {
            parsed = parseControlEvent(event);
          } catch (error) {
            if (!(error instanceof InputError)) throw error;
            expect(error.message).toMatch(/^(Dispatcher event|Invalid dispatcher event)/);
            counts.tick('  parse outcome: InputError');
            return;
          }
          counts.tick(`  parse outcome: ${parsed.action}`);
          expect(parseControlEvent(JSON.parse(JSON.stringify(parsed)))).toEqual(parsed);
          if (parsed.action === 'backfill-plan') {
            expect(Number.isNaN(parsed.request.from.getTime())).toBe(false);
            expect(Number.isNaN(parsed.request.to.getTime())).toBe(false);
          }
        }),
        fuzzRuns(PURE_RUNS),
      );
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'the Lambda handler refuses invalid events with InputError, and fails valid ones on the store or a named check',
    async () => {
      await fc.assert(
        fc.asyncProperty(anyEventArb, async (event) => {
          counts.tick('handler: any event');
          let valid = true;
          try {
            parseControlEvent(event);
          } catch {
            valid = false;
          }
          const error = await handler(event, context).then(
            () => undefined,
            (thrown: unknown) => thrown,
          );
          // The store refuses connections: a valid event fails there, or on a check that needs no store.
          expect(error).toBeInstanceOf(Error);
          const { name, message } = error as Error;
          counts.tick(`  handler outcome: ${name}`);
          expect(UNCLEAR, `${name}: ${message}`).not.toContain(name);
          expect(message.trim()).not.toBe('');
          if (valid)
            expect(name).toMatch(/^(Store\w*Error|UnknownJobError|BackfillRefusedError|InputError)$/);
          else expect(name).toBe('InputError');
        }),
        fuzzRuns(HANDLER_RUNS),
      );
    },
    TEST_TIMEOUT_MS,
  );
});
