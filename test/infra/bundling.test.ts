/**
 * The Lambda bundles as Lambda runs them: built by the stack's own construct and options, copied into
 * an empty folder outside the repository (no `node_modules` above it, so nothing resolves the
 * repository's packages), imported by a fresh Node process and called with `(event, context)`. The
 * dispatcher, the migrations handler and the job function open real connections to the test MariaDB.
 */
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { builtinModules } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PikoFunction } from '../../infra/constructs/piko-function.ts';
import { MIGRATIONS } from '../../shared/store/migrations.ts';
import { createTestDatabase, mysqlAvailable, mysqlTestDsn, type TestDatabase } from '../../support/mysql.ts';
import { buildPikoStack, cfnText, fixtureJobs, type Resources } from './fixtures.ts';

const DISPATCHER = 'functions/dispatcher.ts';
const STAGE_RUNNER = 'functions/stage-runner.ts';
const MIGRATE = 'functions/migrate.ts';
const ERROR_NAMES = 'test/fixtures/bundle/error-names.ts';
const ENTRIES = [DISPATCHER, STAGE_RUNNER, MIGRATE];
/** As the stack bundles them: only the job function carries mysql2's RDS CA certificates. */
const RDS_CA_BUNDLE: Record<string, boolean> = { [STAGE_RUNNER]: true };

/** Outside the repository: a bundle run from under it would resolve the repository's node_modules. */
const work = mkdtempSync(path.join(os.tmpdir(), 'piko-bundles-'));
/** Entry → the folder holding only its bundle (index.mjs and its map), as Lambda's /var/task. */
const sandboxes = new Map<string, string>();
const INVOKER = path.join(work, 'invoke.mjs');

beforeAll(() => {
  mkdirSync(path.join(work, 'data'));
  for (const entry of [...ENTRIES, ERROR_NAMES]) {
    const name = path.basename(entry, '.ts');
    const app = new App({ outdir: path.join(work, `cdk.out-${name}`) });
    new PikoFunction(new Stack(app, 'Bundle'), 'Function', {
      entry,
      rdsCaBundle: RDS_CA_BUNDLE[entry] ?? false,
    });
    app.synth();
    const [asset] = readdirSync(app.outdir).filter((file) => file.startsWith('asset.'));
    const sandbox = path.join(work, `lambda-${name}`);
    cpSync(path.join(app.outdir, asset!), sandbox, { recursive: true });
    rmSync(app.outdir, { recursive: true, force: true });
    sandboxes.set(entry, sandbox);
  }
  // Imports the handler as the Lambda runtime does and prints what it returned or threw.
  writeFileSync(
    INVOKER,
    `const [bundle, event] = process.argv.slice(2);
const context = {
  functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
  invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:' + process.env.AWS_LAMBDA_FUNCTION_NAME,
  awsRequestId: 'test-request',
  getRemainingTimeInMillis: () => 60000,
};
let outcome;
try {
  const { handler } = await import(bundle);
  outcome = { result: (await handler(JSON.parse(event), context)) ?? null };
} catch (error) {
  outcome = { error: { name: error?.name, message: error?.message } };
}
// Logs go to stdout too (as in Lambda): the outcome is the last line.
process.stdout.write('\\n' + JSON.stringify(outcome), () => process.exit(0));
`,
  );
}, 180_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

const bundleOf = (entry: string) => path.join(sandboxes.get(entry)!, 'index.mjs');
const codeOf = (entry: string) => readFileSync(bundleOf(entry), 'utf8');

/** Folders from `dir` up to the root that hold a node_modules (where Node would resolve packages). */
function nodeModulesAbove(dir: string): string[] {
  const found: string[] = [];
  for (let at = dir; ; at = path.dirname(at)) {
    if (existsSync(path.join(at, 'node_modules'))) found.push(at);
    if (path.dirname(at) === at) return found;
  }
}

/**
 * The modules a minified ESM bundle loads at run time: its `import` statements, its `import("…")`
 * calls, and what its CommonJS parts `require` through esbuild's wrapper (the one that falls back
 * to the banner's `require`). Text in strings, such as error messages naming a package, is not code.
 */
function moduleSpecifiers(code: string): string[] {
  const found = new Set<string>();
  const add = (pattern: RegExp) => {
    for (const match of code.matchAll(pattern)) found.add(match[1]!);
  };
  add(/(?:^|[;}])import\s*(?:[\w$]+\s*,?\s*)?(?:\*\s*as\s*[\w$]+\s*|\{[^}]*\}\s*)?from\s*["']([^"']+)["']/g);
  add(/(?:^|[;}])import\s*["']([^"']+)["']/g);
  add(/\bimport\(\s*"([^"]+)"\s*\)/g);
  const wrapper = /([\w$]+)=\(\w+=>typeof require<"u"\?require:/.exec(code)?.[1];
  if (wrapper) add(new RegExp(`[^\\w$.]${wrapper.replaceAll('$', '\\$')}\\("([^"]+)"\\)`, 'g'));
  return [...found];
}

/** What a function gets from Lambda and from the stack, with local stand-ins. */
function lambdaEnvironment(entry: string, variables: Record<string, string>): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    AWS_REGION: 'eu-west-1',
    AWS_LAMBDA_FUNCTION_NAME: `test-${path.basename(entry, '.ts')}`,
    // Lambda hands the execution role's credentials over in the environment; these sign nothing real.
    AWS_ACCESS_KEY_ID: 'AKIDPIKOBUNDLETEST',
    AWS_SECRET_ACCESS_KEY: 'piko-bundle-test-secret',
    AWS_SESSION_TOKEN: 'piko-bundle-test-token',
    ...variables,
  };
}

type Outcome = { result: unknown } | { error: { name: string; message: string } };

/** Calls the bundled handler of `entry` once, in a fresh Node process whose working directory is its folder. */
function invoke(entry: string, event: unknown, variables: Record<string, string>): Outcome {
  const result = spawnSync(process.execPath, [INVOKER, bundleOf(entry), JSON.stringify(event)], {
    cwd: sandboxes.get(entry),
    env: lambdaEnvironment(entry, variables),
    encoding: 'utf8',
    timeout: 90_000,
  });
  if (result.status !== 0) {
    throw new Error(`the ${entry} bundle exited with ${result.status}: ${result.stderr || result.error}`);
  }
  return JSON.parse(result.stdout.trim().split('\n').pop()!) as Outcome;
}

/** The environment the stack gives the dispatcher and the migrations handler, on a local database. */
function storeVariables(dsn: string): Record<string, string> {
  return { PIKO_MYSQL__DSN: dsn, PIKO_MYSQL__IAM_AUTH: 'false', PIKO_AWS__STACK_NAME: 'Piko' };
}

/** The test DSN for `database`, without TLS (the local MariaDB has none; the artifact tier tests TLS). */
function localDsn(database: string, host = '127.0.0.1:3306'): string {
  const url = new URL(mysqlTestDsn());
  url.host = host;
  url.pathname = `/${database}`;
  url.searchParams.set('ssl', 'false');
  return url.toString();
}

describe('Lambda bundles', () => {
  it('are run from a folder with no node_modules above it', () => {
    for (const entry of ENTRIES) {
      expect(nodeModulesAbove(sandboxes.get(entry)!)).toEqual([]);
      expect(readdirSync(sandboxes.get(entry)!).sort()).toEqual(['index.mjs', 'index.mjs.map']);
    }
  });

  it.each(ENTRIES)('%s is minified ESM with a source map, iconv-lite and SQLite left out', (entry) => {
    const code = codeOf(entry);
    expect(code).toMatch(/^import\{createRequire as __pikoCreateRequire\}from'node:module';/);
    expect(code).toMatch(/\/\/# sourceMappingURL=index\.mjs\.map\s*$/);
    const contains = (text: string) => code.includes(text);
    // Minified: the store's own constant names are gone (keepNames keeps only function and class names).
    expect(contains('MIGRATION_LOCK_TIMEOUT_SECONDS')).toBe(false);
    expect(contains('MAX_LOCK_NAME_LENGTH')).toBe(false);
    expect(contains('aws-cdk-lib')).toBe(false);
    // iconv-lite's code pages stay out (infra/shims/iconv-lite.cjs stands in), and so does SQLite.
    expect(contains('windows1252')).toBe(false);
    expect(contains('better_sqlite3.node')).toBe(false);
  });

  it.each(ENTRIES)('%s imports nothing but Node built-ins: the AWS SDK is in the bundle', (entry) => {
    const builtins = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));
    // mysql2 tries `cardinal` (SQL highlighting in debug output) inside a try/catch and does without it.
    const optional = new Set(['cardinal']);
    const specifiers = moduleSpecifiers(codeOf(entry));
    expect(specifiers).toContain('node:crypto');
    expect(specifiers.filter((specifier) => !builtins.has(specifier) && !optional.has(specifier))).toEqual(
      [],
    );
  });

  it('leaves the RDS CA certificates out where the store connects with Node’s CAs', () => {
    const has = (entry: string) => codeOf(entry).includes('BEGIN CERTIFICATE');
    expect(ENTRIES.map(has)).toEqual([false, true, false]);
  });

  it.each(ENTRIES)('%s loads in its empty folder with the environment the stack sets', (entry) => {
    const result = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const m = await import(${JSON.stringify(bundleOf(entry))}); if (typeof m.handler !== 'function') throw new Error('no handler');`,
      ],
      {
        cwd: sandboxes.get(entry),
        env: lambdaEnvironment(entry, {
          PIKO_MYSQL__DSN: 'mysql://piko_admin@proxy.invalid:3306/piko',
          PIKO_MYSQL__IAM_AUTH: 'true',
          PIKO_AWS__STACK_NAME: 'Piko',
          PIKO_DATA_DIR: '/tmp/piko',
        }),
        encoding: 'utf8',
      },
    );
    expect(result.stderr.replace(/\(node:\d+\) Warning: NodeVersionSupportWarning[\s\S]*$/, '').trim()).toBe(
      '',
    );
    expect(result.status).toBe(0);
  });
});

const probe = await mysqlAvailable();
// Without a server, skip locally with the reason; in CI, run and fail with it.
const skip = !probe.available && !process.env.CI;
if (!probe.available) console.warn(`Bundle MySQL tests ${skip ? 'skipped' : 'will fail'}: ${probe.reason}`);

describe.skipIf(skip)('Lambda bundles on MySQL', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    if (!probe.available) throw new Error(probe.reason);
    database = await createTestDatabase('bundles');
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('the migrations handler creates the schema, then finds nothing to do on Update', () => {
    const variables = storeVariables(localDsn(database.name));
    const all = MIGRATIONS.map((migration) => migration.version).join(',');
    expect(invoke(MIGRATE, { RequestType: 'Create' }, variables)).toEqual({
      result: { PhysicalResourceId: 'piko-state-schema', Data: { applied: all } },
    });
    expect(
      invoke(MIGRATE, { RequestType: 'Update', PhysicalResourceId: 'piko-state-schema' }, variables),
    ).toEqual({
      result: { PhysicalResourceId: 'piko-state-schema', Data: { applied: '' } },
    });
  });

  it('the dispatcher writes and reads the state table', () => {
    const variables = storeVariables(localDsn(database.name));
    expect(invoke(DISPATCHER, { action: 'pause', jobId: 'price_fanout' }, variables)).toEqual({
      result: { action: 'pause', jobId: 'price_fanout', paused: true },
    });
    const status = invoke(DISPATCHER, { action: 'status', jobId: 'price_fanout' }, variables);
    expect(status).toMatchObject({
      result: { action: 'status', jobs: [{ jobId: 'price_fanout', paused: true }] },
    });
  });

  it('the job function refuses an event for a run the store does not have', () => {
    const variables = {
      ...storeVariables(localDsn(database.name)),
      PIKO_DATA_DIR: path.join(work, 'data'),
      PIKO_JOB_ID: 'price_fanout',
    };
    const event = {
      action: 'run',
      stage: 'main',
      stageIndex: 0,
      lastStage: true,
      run: { jobId: 'price_fanout', runId: 987_654, executionName: 'price_fanout-x', generation: 0 },
    };
    expect(invoke(STAGE_RUNNER, event, variables)).toEqual({
      error: {
        name: 'StageEventRefusedError',
        message: expect.stringContaining('run 987654 does not exist in the state store'),
      },
    });
  });

  it('with IAM auth on, the dispatcher signs a token with the bundled signer and then asks for TLS', () => {
    // The local MariaDB has no TLS: the open gets past the signer (in the bundle) and stops at TLS.
    const dsn = localDsn(database.name)
      .replace(/^mysql:\/\/[^@]*@/, 'mysql://piko_admin@')
      .replace('?ssl=false', '');
    const outcome = invoke(
      DISPATCHER,
      { action: 'status' },
      { ...storeVariables(dsn), PIKO_MYSQL__IAM_AUTH: 'true' },
    );
    expect(outcome).toMatchObject({ error: { name: 'StoreError' } });
    expect((outcome as { error: { message: string } }).error.message).toMatch(
      /^StoreError: Cannot use MySQL at 127\.0\.0\.1:3306\/piko_t_bundles_\w+: .*(secure connection|SSL)/i,
    );
  });
});

describe.skipIf(skip)('Error names in the bundles', () => {
  /** Every error name the stack's state machines match in Retry and Catch, but `States.*` and services' (`Lambda.*`). */
  function matchedErrorNames(): Set<string> {
    const { stack, template } = buildPikoStack(fixtureJobs);
    const render = cfnText(stack);
    const names = new Set<string>();
    for (const resource of Object.values(template.toJSON().Resources as Resources)) {
      if (resource.Type !== 'AWS::StepFunctions::StateMachine') continue;
      const definition = JSON.parse(String(render(resource.Properties?.DefinitionString))) as unknown;
      JSON.stringify(definition, (key, value: unknown) => {
        if (key === 'ErrorEquals') for (const name of value as string[]) names.add(name);
        return value;
      });
    }
    return new Set([...names].filter((name) => !name.includes('.')));
  }

  it('every Piko error class keeps its exact name through bundling', () => {
    const listed = invoke(ERROR_NAMES, { list: true }, {});
    const { names, classes } = (listed as { result: { names: string[]; classes: number } }).result;
    expect(names).toHaveLength(classes);
    const thrown = names.map(
      (name) => (invoke(ERROR_NAMES, { error: name }, {}) as { error: { name: string } }).error.name,
    );
    expect(thrown).toEqual(names);
  }, 120_000);

  it('the errors the bundles throw are the ones the state machines retry and catch', () => {
    const matched = matchedErrorNames();
    expect([...matched].sort()).toEqual([
      'AwsCallError',
      'AwsThrottledError',
      'NonRetryableError',
      'StageEventRefusedError',
      'StoreError',
      'StoreUnavailableError',
    ]);
    // A store that cannot be reached, and one that refuses the database: both transient for the backfill.
    const unreachable = invoke(
      DISPATCHER,
      { action: 'status' },
      storeVariables(localDsn('piko', '127.0.0.1:1')),
    );
    const missing = invoke(
      DISPATCHER,
      { action: 'status' },
      storeVariables(localDsn(`piko_t_missing_${process.pid}`)),
    );
    const names = [unreachable, missing].map(
      (outcome) => (outcome as { error: { name: string } }).error.name,
    );
    expect(names).toEqual(['StoreUnavailableError', 'StoreError']);
    for (const name of names) expect(matched).toContain(name);
  }, 120_000);
});
