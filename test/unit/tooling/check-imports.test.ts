import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  checkImports,
  type ForbiddenImports,
  formatImportReport,
  type ImportCheck,
  importCycles,
  stronglyConnectedComponents,
} from '../../../scripts/import-graph.ts';

const FIXTURES = fileURLToPath(new URL('../../fixtures/import-graph/', import.meta.url));
/** As scripts/check-imports.ts forbids them. */
const FORBIDDEN: ForbiddenImports = {
  packages: ['aws-cdk-lib', 'better-sqlite3'],
  paths: ['infra/', 'shared/store/sqlite.ts'],
};
const checkOf = (tree: string, entries: string[], alias: Record<string, string>): ImportCheck => ({
  root: path.join(FIXTURES, tree),
  dirs: ['shared', 'infra', 'functions'],
  entries,
  // The parts of the Lambda bundling options that decide what a bundle holds.
  bundling: { platform: 'node', format: 'esm', mainFields: ['module', 'main'], alias },
  forbidden: FORBIDDEN,
});

describe('import cycles', () => {
  it('lists a two-file cycle, and covers every file of a knot with its shortest cycles', () => {
    // Arrange: a ↔ b; one → two → three → one with two → one as well; c imports itself; d only imports.
    const graph = new Map([
      ['a', ['b']],
      ['b', ['a']],
      ['one', ['two']],
      ['two', ['one', 'three']],
      ['three', ['one']],
      ['c', ['c']],
      ['d', ['a', 'one']],
    ]);

    // Act
    const cycles = importCycles(graph);

    // Assert
    expect(cycles).toEqual([
      ['a', 'b', 'a'],
      ['c', 'c'],
      ['one', 'two', 'one'],
      ['one', 'two', 'three', 'one'],
    ]);
  });

  it('finds no component of more than one file in a graph without cycles', () => {
    const graph = new Map([
      ['a', ['b', 'c']],
      ['b', ['c']],
      ['c', []],
    ]);
    expect(stronglyConnectedComponents(graph).map((component) => component.length)).toEqual([1, 1, 1]);
    expect(importCycles(graph)).toEqual([]);
  });
});

describe('checkImports', () => {
  it('reports every cycle and every forbidden reach of a tangled tree, each with its import chain', async () => {
    // Arrange: the Lambda bundles alias better-sqlite3 to a stand-in; an import of it is still a problem.
    const check = checkOf('tangled', ['functions/handler.ts', 'functions/deploy.ts', 'functions/native.ts'], {
      'better-sqlite3': path.join(FIXTURES, 'tangled/infra/shims/better-sqlite3.cjs'),
    });

    // Act
    const report = await checkImports(check);

    // Assert
    expect(report.files).toBe(12);
    expect(report.cycles).toEqual([
      ['shared/a.ts', 'shared/b.ts', 'shared/a.ts'],
      ['shared/ring/one.ts', 'shared/ring/two.ts', 'shared/ring/one.ts'],
      ['shared/ring/one.ts', 'shared/ring/two.ts', 'shared/ring/three.ts', 'shared/ring/one.ts'],
    ]);
    expect(report.reaches).toEqual([
      // Both imports of sqlite.ts the entry reaches, each a fix to make.
      {
        entry: 'functions/handler.ts',
        forbidden: 'shared/store/sqlite.ts',
        chain: ['functions/handler.ts', 'shared/pool.ts', 'shared/store/sqlite.ts'],
      },
      {
        entry: 'functions/handler.ts',
        forbidden: 'shared/store/sqlite.ts',
        chain: ['functions/handler.ts', 'shared/store/index.ts', 'shared/store/sqlite.ts'],
      },
      { entry: 'functions/deploy.ts', forbidden: 'infra/', chain: ['functions/deploy.ts', 'infra/cdk.ts'] },
      {
        entry: 'functions/native.ts',
        forbidden: 'better-sqlite3',
        chain: ['functions/native.ts', 'better-sqlite3'],
      },
    ]);
    expect(formatImportReport(report)).toBe(
      [
        'Imports: 7 problems.',
        '',
        'Import cycles (3): break each by moving what both files need into a module both may import.',
        '  1. shared/a.ts',
        '     → shared/b.ts',
        '     → shared/a.ts',
        '  2. shared/ring/one.ts',
        '     → shared/ring/two.ts',
        '     → shared/ring/one.ts',
        '  3. shared/ring/one.ts',
        '     → shared/ring/two.ts',
        '     → shared/ring/three.ts',
        '     → shared/ring/one.ts',
        '',
        'Runtime entries reaching what must not run on AWS (4; forbidden: aws-cdk-lib, better-sqlite3, infra/, shared/store/sqlite.ts):',
        '  1. functions/handler.ts reaches shared/store/sqlite.ts:',
        '     functions/handler.ts',
        '     → shared/pool.ts',
        '     → shared/store/sqlite.ts',
        '  2. functions/handler.ts reaches shared/store/sqlite.ts:',
        '     functions/handler.ts',
        '     → shared/store/index.ts',
        '     → shared/store/sqlite.ts',
        '  3. functions/deploy.ts reaches infra/:',
        '     functions/deploy.ts',
        '     → infra/cdk.ts',
        '  4. functions/native.ts reaches better-sqlite3:',
        '     functions/native.ts',
        '     → better-sqlite3',
      ].join('\n'),
    );
  });

  it('reports a forbidden package reached through a file that is not itself forbidden', async () => {
    const check = {
      ...checkOf('tangled', ['functions/handler.ts'], {}),
      forbidden: { packages: ['better-sqlite3'], paths: [] },
    };

    const report = await checkImports(check);

    expect(report.reaches).toEqual([
      {
        entry: 'functions/handler.ts',
        forbidden: 'better-sqlite3',
        chain: ['functions/handler.ts', 'shared/pool.ts', 'shared/store/sqlite.ts', 'better-sqlite3'],
      },
    ]);
  });

  it('passes a clean tree: forbidden modules used off the runtime path, a stand-in put in by an alias', async () => {
    // Arrange: shared/local.ts opens SQLite and infra/ uses the CDK, but no entry reaches either;
    // the entry's iconv-lite is aliased to a stand-in under infra/, which the bundler puts in.
    const check = checkOf('clean', ['functions/handler.ts'], {
      'iconv-lite': path.join(FIXTURES, 'clean/infra/shims/iconv-lite.cjs'),
    });

    // Act
    const report = await checkImports(check);

    // Assert
    expect(report.cycles).toEqual([]);
    expect(report.reaches).toEqual([]);
    expect(formatImportReport(report)).toBe(
      'Imports: no cycles among 5 files; 1 runtime entries (functions/handler.ts) reach none of ' +
        'aws-cdk-lib, better-sqlite3, infra/, shared/store/sqlite.ts.',
    );
  });

  it('reports a cycle closed by a type-only import, which the bundles do not see', async () => {
    // Arrange: p imports a type of q, which imports p's value; s re-exports a type of t, which imports s.
    const check = { ...checkOf('typed', ['functions/handler.ts'], {}), dirs: ['shared', 'functions'] };

    // Act
    const report = await checkImports(check);

    // Assert: both cycles, the type-only step of each marked
    expect(report.cycles).toEqual([
      ['shared/p.ts', 'shared/q.ts', 'shared/p.ts'],
      ['shared/s.ts', 'shared/t.ts', 'shared/s.ts'],
    ]);
    expect(report.typeOnlyImports).toEqual(['shared/p.ts → shared/q.ts', 'shared/s.ts → shared/t.ts']);
    expect(formatImportReport(report)).toContain(
      '  1. shared/p.ts\n     → shared/q.ts (import type)\n     → shared/p.ts',
    );
  });
});
