import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  evaluatePlainPath,
  installFastPlainPaths,
  loadInterpreter,
  plainPathMembers,
} from '../../../shared/local/workflow/fast-jsonpath.ts';
import { renderJobWorkflow } from '../../../shared/local/workflow/render.ts';
import { fargateJob, singleStageJob, twoStageJob } from '../workflow/jobs.ts';

type JsonPathFunction = (...args: unknown[]) => unknown;

const interpreterEntry = createRequire(import.meta.url).resolve('aws-local-stepfunctions');
/** The CommonJS jsonpath-plus aws-local-stepfunctions' CommonJS build requires (the one patched). */
const jsonPathCjs = () => createRequire(interpreterEntry)('jsonpath-plus') as { JSONPath: JsonPathFunction };

/** jsonpath-plus as published: its ES build, a module instance of its own that nothing patches. */
let reference: JsonPathFunction;
beforeAll(async () => {
  const cjsFile = createRequire(interpreterEntry).resolve('jsonpath-plus');
  const esm = (await import(pathToFileURL(path.join(path.dirname(cjsFile), 'index-node-esm.js')).href)) as {
    JSONPath: JsonPathFunction;
  };
  reference = esm.JSONPath;
});

/** Member names that exist in the documents below, and some that jsonpath-plus could treat apart. */
const MEMBERS = ['a', 'b', 'run', 'runId', 'length', 'Map', '_x', 'A1', 'constructor', 'toString'];

const leaf = fc.constantFrom<unknown>(null, 0, 1, -1, '', 'abc', true, false, [], {});
const documents = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom(...MEMBERS), tie('value'), { maxKeys: 5 }),
  ),
})).value;
const plainPaths = fc
  .array(fc.constantFrom(...MEMBERS), { maxLength: 4 })
  .map((members) => ['$', ...members].join('.'));

describe('the fast path for plain JSONPath queries', () => {
  it('answers every plain path as jsonpath-plus does (same value, same object)', () => {
    const fast = { JSONPath: reference };
    installFastPlainPaths(fast);
    fc.assert(
      fc.property(documents, plainPaths, (json, query) => {
        const expected = reference({ path: query, json, wrap: false });
        const answered = fast.JSONPath({ path: query, json, wrap: false });
        expect(answered).toBe(expected);
        expect(plainPathMembers(query)).toBeDefined();
      }),
      { numRuns: 3_000, seed: 1111 },
    );
  });

  it('leaves every other query to jsonpath-plus', () => {
    let calls = 0;
    const counting = function (this: unknown, ...args: unknown[]) {
      calls += 1;
      return reference.apply(this, args);
    } as JsonPathFunction;
    const module = { JSONPath: counting };
    installFastPlainPaths(module);
    const json = { a: [{ b: 1 }, { b: 2 }], 'x y': 3, run: { runId: 7 } };
    const others = [
      '$.a[0]',
      '$..b',
      '$.a[*].b',
      "$['x y']",
      '$.a.0',
      '$.*',
      '$.a[?(@.b>1)]',
      '$.run..runId',
    ];
    for (const query of others) {
      expect(plainPathMembers(query)).toBeUndefined();
      expect(module.JSONPath({ path: query, json, wrap: false })).toEqual(
        reference({ path: query, json, wrap: false }),
      );
    }
    // Another call shape (wrapped results, a string argument): jsonpath-plus's.
    expect(module.JSONPath({ path: '$.run.runId', json, wrap: true })).toEqual([7]);
    expect(module.JSONPath('$.run.runId', json)).toEqual([7]);
    expect(calls).toBe(others.length + 2);
    // Plain, as the interpreter asks: never reaches jsonpath-plus.
    expect(module.JSONPath({ path: '$.run.runId', json, wrap: false })).toBe(7);
    expect(module.JSONPath({ path: '$.run.missing', json, wrap: false })).toBeUndefined();
    expect(calls).toBe(others.length + 2);
  });

  it('keeps jsonpath-plus quirks: nothing for a falsy document, own members only', () => {
    for (const json of [null, 0, '', false]) {
      expect(evaluatePlainPath([], json)).toBe(reference({ path: '$', json, wrap: false }));
      expect(evaluatePlainPath([], json)).toBeUndefined();
    }
    expect(evaluatePlainPath(['length'], 'abc')).toBe(3);
    expect(evaluatePlainPath(['toString'], {})).toBeUndefined();
    expect(reference({ path: '$.toString', json: {}, wrap: false })).toBeUndefined();
  });

  it('is what the interpreter uses, and covers every path of the rendered workflows', async () => {
    loadInterpreter();
    expect((jsonPathCjs().JSONPath as { fastPlainPaths?: true }).fastPlainPaths).toBe(true);
    const distributed = { ...singleStageJob, id: 'wide', concurrency: 300 };
    for (const job of [singleStageJob, twoStageJob, fargateJob, distributed]) {
      const queries = new Set<string>();
      const visit = (value: unknown, key: string) => {
        if (
          typeof value === 'string' &&
          value.startsWith('$') &&
          (key.endsWith('.$') || /Path$|^Variable$/.test(key))
        ) {
          queries.add(value.startsWith('$$') ? value.slice(1) : value);
        } else if (typeof value === 'string' && key.endsWith('.$')) {
          // Intrinsic functions: their path arguments are queried as well.
          for (const argument of value.match(/\$[$.\w]*/g) ?? []) queries.add(argument);
        } else if (value && typeof value === 'object') {
          for (const [name, inner] of Object.entries(value)) visit(inner, name);
        }
      };
      visit(JSON.parse(await renderJobWorkflow(job)), '');
      expect(queries.size).toBeGreaterThan(5);
      for (const query of queries)
        expect([job.id, query, plainPathMembers(query)]).toEqual([job.id, query, expect.any(Array)]);
    }
  });
});
