/**
 * A fast path for the JSONPath queries aws-local-stepfunctions makes while it runs a job workflow.
 *
 * The interpreter evaluates every `.$` field, `InputPath`, `OutputPath`, `ItemsPath` and Choice
 * `Variable` with jsonpath-plus, called as `JSONPath({ path, json, wrap: false })`. Called so,
 * jsonpath-plus constructs itself and, for every scalar result, throws an `Error` (`NewError`, a
 * stack capture) only to catch it and return the value: 11–16 % of the local runtime's CPU for no-op
 * runs (FACTS.md). Our rendered workflows only use plain member paths (`$`, `$.run.runId`,
 * `$$.Map.Item.Value`): for exactly those, this answers what jsonpath-plus answers, without it;
 * every other query (brackets, wildcards, filters, other options) still goes to jsonpath-plus. The
 * definition that runs is unchanged (DESIGN.md: the local runtime runs the synthesized definition);
 * only who evaluates a plain path differs, and `test/unit/local/fast-jsonpath.test.ts` checks the
 * answers against jsonpath-plus's own.
 */
import { createRequire } from 'node:module';
import { installIterationAbort } from './iteration-abort.ts';
import { installQuietEventLog } from './quiet-event-log.ts';

/** A path of plain member names: `$`, `$.a`, `$.a.b_2`… (no brackets, wildcards, filters or quotes). */
const PLAIN_PATH = /^\$(?:\.[A-Za-z_][A-Za-z0-9_]*)*$/;

/** Member names of the plain paths seen so far (a workflow has a few dozen); null: not plain. */
const parsed = new Map<string, readonly string[] | null>();
/** Bounds the cache: the paths come from definitions, but a process may run many of them. */
const MAX_PARSED = 4_096;

/** The member names of a plain path (`$.a.b` → `['a', 'b']`), or undefined for any other path. */
export function plainPathMembers(path: string): readonly string[] | undefined {
  let members = parsed.get(path);
  if (members === undefined) {
    members = PLAIN_PATH.test(path) ? path.split('.').slice(1) : null;
    if (parsed.size >= MAX_PARSED) parsed.clear();
    parsed.set(path, members);
  }
  return members ?? undefined;
}

/**
 * What `JSONPath({ path, json, wrap: false })` of jsonpath-plus 10 returns for a plain path:
 * undefined for a falsy document (jsonpath-plus evaluates nothing then, even for `$`); else each
 * member followed only where the value so far is truthy and has it as an own property (as
 * jsonpath-plus's `_trace` does: `val && Object.hasOwn(val, loc)`), undefined where one is missing;
 * the value itself (not a copy) at the end.
 */
export function evaluatePlainPath(members: readonly string[], json: unknown): unknown {
  if (!json) return undefined;
  let value: unknown = json;
  for (const member of members) {
    if (!value || !Object.hasOwn(value as object, member)) return undefined;
    value = (value as Record<string, unknown>)[member];
  }
  return value;
}

type JsonPathFunction = (...args: unknown[]) => unknown;

interface JsonPathModule {
  JSONPath: JsonPathFunction & { readonly fastPlainPaths?: true };
}

/**
 * Wraps `JSONPath` of the jsonpath-plus module (the CommonJS one aws-local-stepfunctions' CommonJS
 * build requires, which reads `JSONPath` off the module at each call) so that a plain path called
 * as the interpreter calls it is answered by {@link evaluatePlainPath}; any other call goes to the
 * original, unchanged (as a function or with `new`). Idempotent.
 */
export function installFastPlainPaths(module: JsonPathModule): void {
  const original = module.JSONPath;
  if (original.fastPlainPaths) return;
  const fast = function JSONPath(this: unknown, ...args: unknown[]): unknown {
    if (new.target) return Reflect.construct(original, args, new.target);
    const options = args[0] as { path?: unknown; json?: unknown; wrap?: unknown } | null | undefined;
    if (args.length === 1 && isInterpreterQuery(options)) {
      const members = plainPathMembers(options.path);
      if (members) return evaluatePlainPath(members, options.json);
    }
    return original.apply(this, args);
  };
  // Statics (toPathArray, cache…) and the prototype stay jsonpath-plus's own.
  Object.setPrototypeOf(fast, original);
  fast.prototype = original.prototype;
  Object.defineProperty(fast, 'fastPlainPaths', { value: true });
  module.JSONPath = fast as JsonPathModule['JSONPath'];
}

/** `{ path, json, wrap: false }` and nothing else: the one call shape the fast path answers. */
function isInterpreterQuery(
  options: { path?: unknown; json?: unknown; wrap?: unknown } | null | undefined,
): options is { path: string; json: unknown; wrap: false } {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) return false;
  if (typeof options.path !== 'string' || options.wrap !== false) return false;
  let keys = 0;
  for (const key in options) {
    if (key !== 'path' && key !== 'json' && key !== 'wrap') return false;
    keys += 1;
  }
  return keys === 3;
}

/** aws-local-stepfunctions' exports, as `import('aws-local-stepfunctions')` gives them. */
export type AwsLocalStepFunctions = typeof import('aws-local-stepfunctions');

let loaded: AwsLocalStepFunctions | undefined;

/**
 * aws-local-stepfunctions with the fast path installed: its CommonJS build (same source and
 * version as the ES one; only there does it look `JSONPath` up at each call), and the jsonpath-plus
 * that build requires, resolved from its own folder; its event log, which nobody reads, not built
 * (quiet-event-log.ts); its Map iterations stopped by their parent without AbortSignal.any
 * (iteration-abort.ts).
 */
export function loadInterpreter(): AwsLocalStepFunctions {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  const entry = require.resolve('aws-local-stepfunctions');
  installFastPlainPaths(createRequire(entry)('jsonpath-plus') as JsonPathModule);
  const interpreter = require(entry) as AwsLocalStepFunctions;
  installQuietEventLog(interpreter.StateMachine as unknown as Parameters<typeof installQuietEventLog>[0]);
  installIterationAbort(interpreter.StateMachine as unknown as Parameters<typeof installIterationAbort>[0]);
  loaded = interpreter;
  return loaded;
}
