import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { stringify as stringifyToml } from 'smol-toml';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, type PikoConfig, SETTINGS_FILE } from '../../shared/config.ts';
import { ConfigError } from '../../shared/errors.ts';
import { FuzzCounts, fuzzRuns, hostileString } from './arbitraries.ts';

const counts = new FuzzCounts('config');
const dir = mkdtempSync(join(tmpdir(), 'piko-fuzz-config-'));
const emptyDir = mkdtempSync(join(tmpdir(), 'piko-fuzz-config-empty-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(emptyDir, { recursive: true, force: true });
});

/** Every key of every section, as settings.toml names them. */
const KNOWN: Readonly<Record<string, readonly string[]>> = {
  piko: [
    'log_level',
    'log_json',
    'data_dir',
    'jobs_dir',
    'shutdown_grace_seconds',
    'max_runs_per_execution',
    'max_backfill_intervals',
  ],
  mysql: ['dsn', 'pool_size', 'iam_auth', 'region'],
  sqlite: ['file'],
  aws: ['region', 'stack_name'],
};
const ENV_NAMES = Object.entries(KNOWN).flatMap(([section, keys]) =>
  keys.map((key) => `PIKO_${section === 'piko' ? '' : `${section.toUpperCase()}__`}${key.toUpperCase()}`),
);

/** A password the checks can find: distinctive, sometimes with characters that need percent-encoding. */
const passwordArb = fc
  .tuple(
    fc.stringMatching(/^[A-Za-z0-9]{6,10}$/),
    fc.constantFrom('', '!', '@x', ':y', '/z', '#', '%', '~', ' ', 'é'),
  )
  .map(([core, tail]) => `Pw${core}${tail}`);

/** A DSN: well-formed with a password, or broken in one of many ways. */
const dsnArb = fc.oneof(
  fc
    .record({
      scheme: fc.constantFrom('mysql', 'mariadb', 'postgres', 'MYSQL', ''),
      user: fc.constantFrom('piko', 'root', '', "'; DROP TABLE piko_runs; --"),
      password: passwordArb,
      encode: fc.constantFrom('component', 'raw', 'malformed'),
      host: fc.constantFrom('127.0.0.1', 'db.example.com', '[::1]', '', 'h o s t'),
      port: fc.constantFrom('', ':3306', ':0', ':99999', ':abc'),
      database: fc.constantFrom('/piko', '', '/', '/a/b', '/%00'),
      query: fc.constantFrom('', '?ssl=true', '?ssl=amazon-rds', '?ssl=maybe', '?x=1'),
    })
    .map(({ scheme, user, password, encode, host, port, database, query }) => {
      const secret =
        encode === 'component'
          ? encodeURIComponent(password)
          : encode === 'raw'
            ? password
            : `${password}%zz`;
      return { dsn: `${scheme}://${user}:${secret}@${host}${port}${database}${query}`, password };
    }),
  hostileString().map((dsn) => ({ dsn, password: undefined })),
);

/** A value for an environment variable: plausible for some key, hostile, or random. */
const envValueArb = fc.oneof(
  fc.constantFrom(
    'debug',
    'INFO',
    'warn',
    'trace',
    'true',
    'false',
    'yes',
    'off',
    '1',
    '0',
    '2',
    '-1',
    '1.5',
  ),
  fc.constantFrom(
    '10',
    '0x10',
    '1e3',
    '1e999',
    ' 7 ',
    'eu-west-1',
    'mars-north-9',
    'Piko',
    'piko stack',
    '.piko',
  ),
  hostileString(),
);

/** An environment: Piko's variables (known, misspelt, runtime-only) and others Piko must ignore. */
const envArb = fc
  .tuple(
    fc.dictionary(
      fc.oneof(
        fc.constantFrom(...ENV_NAMES),
        fc.constantFrom(
          'PIKO_',
          'PIKO__',
          'PIKO_MYSQL__',
          'PIKO_LOGLEVEL',
          'PIKO_NOPE__X',
          'PIKO_TEST_ANYTHING',
        ),
        fc.constantFrom('PIKO_STAGE_EVENT', 'PIKO_JOB_ID', 'AWS_REGION', 'AWS_LAMBDA_FUNCTION_NAME', 'HOME'),
        fc.string({ maxLength: 8 }).map((suffix) => `PIKO_${suffix}`),
      ),
      envValueArb,
      { maxKeys: 6 },
    ),
    fc.option(dsnArb, { nil: undefined }),
  )
  .map(([env, dsn]) => ({
    env: dsn ? { ...env, PIKO_MYSQL__DSN: dsn.dsn } : env,
    password: dsn?.password,
  }));

/** A settings table value: the right type for some key, or anything TOML can hold. */
const tomlValueArb: fc.Arbitrary<unknown> = fc.oneof(
  envValueArb,
  fc.integer(),
  fc.double({ noNaN: false }),
  fc.boolean(),
  fc.date({ min: new Date(Date.UTC(1, 0, 1)), max: new Date(Date.UTC(9999, 0, 1)) }),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 2 }),
);

/** A settings.toml built from tables: known sections and keys with random values, plus unknown ones. */
const structuredTomlArb = fc
  .dictionary(
    fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...Object.keys(KNOWN)) },
      { weight: 1, arbitrary: fc.string({ maxLength: 6 }) },
    ),
    fc.dictionary(
      fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom(...Object.values(KNOWN).flat()) },
        { weight: 1, arbitrary: fc.string({ maxLength: 6 }) },
      ),
      tomlValueArb,
      { maxKeys: 4 },
    ),
    { maxKeys: 4 },
  )
  .chain((tables) => {
    try {
      return fc.constant(stringifyToml(tables));
    } catch {
      return fc.constant('');
    }
  });

/** Any text as settings.toml: built from tables, then maybe cut or spliced with hostile text. */
const tomlTextArb = fc.oneof(
  { weight: 3, arbitrary: structuredTomlArb },
  {
    weight: 2,
    arbitrary: fc
      .tuple(structuredTomlArb, fc.nat(), hostileString())
      .map(
        ([text, at, junk]) =>
          text.slice(0, at % (text.length + 1)) + junk + text.slice(at % (text.length + 1)),
      ),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '[piko',
      '[[piko]]',
      'piko = 1',
      '[piko]\nlog_level = "debug"\n[piko]\n',
      '\uFEFF[piko]',
      `a = ${'['.repeat(2000)}`,
    ),
  },
);

type Outcome = { config: PikoConfig } | { error: ConfigError };

/** Loads the config and checks the contract: a frozen, valid config, or a ConfigError listing problems. */
function load(cwd: string, env: Record<string, string>): Outcome {
  let config: PikoConfig;
  try {
    config = loadConfig({ cwd, env });
  } catch (error) {
    if (!(error instanceof ConfigError)) {
      throw new Error(`loadConfig threw ${(error as Error)?.name}: ${(error as Error)?.message}`, {
        cause: error,
      });
    }
    expect(error.problems.length).toBeGreaterThan(0);
    for (const problem of error.problems) expect(error.message).toContain(problem);
    return { error };
  }
  expect(Object.isFrozen(config)).toBe(true);
  expect(['debug', 'info', 'warn', 'error']).toContain(config.piko.logLevel);
  expect(Number.isInteger(config.mysql.poolSize) && config.mysql.poolSize > 0).toBe(true);
  expect(config.sqlite.file).not.toBe('');
  expect(config.aws.stackName).toMatch(/^[A-Za-z][A-Za-z0-9-]{0,127}$/);
  if (config.mysql.iamAuth) expect(config.mysql.dsn).toBeDefined();
  return { config };
}

describe('loadConfig with fuzzed settings files and environments', () => {
  it('reads any settings.toml as a valid config or a ConfigError naming the file', () => {
    fc.assert(
      fc.property(tomlTextArb, (text) => {
        counts.tick('settings.toml text');
        writeFileSync(join(dir, SETTINGS_FILE), text);
        const outcome = load(dir, {});
        counts.tick(`  settings.toml outcome: ${'config' in outcome ? 'valid' : 'ConfigError'}`);
        if ('error' in outcome)
          for (const problem of outcome.error.problems) expect(problem).toContain(SETTINGS_FILE);
      }),
      fuzzRuns(400),
    );
  });

  it('reads any environment as a valid config or a ConfigError naming each variable, never printing a password', () => {
    fc.assert(
      fc.property(envArb, ({ env, password }) => {
        counts.tick('environment');
        const outcome = load(emptyDir, env);
        counts.tick(`  environment outcome: ${'config' in outcome ? 'valid' : 'ConfigError'}`);
        if ('config' in outcome) return;
        for (const problem of outcome.error.problems) {
          // An invalid AWS_REGION is reported as the region's "(default)": it is where the default comes from.
          if (/^(aws|mysql)\.region = .* \(default\)/.test(problem)) expect(env.AWS_REGION).toBeDefined();
          else expect(problem).toMatch(/\(environment variable PIKO_[^)]*\)/);
        }
        if (password !== undefined) {
          expect(outcome.error.message).not.toContain(password);
          expect(outcome.error.message).not.toContain(encodeURIComponent(password));
        }
      }),
      fuzzRuns(400),
    );
  });

  it('merges both: the environment wins where it is valid, and every problem of both is listed', () => {
    fc.assert(
      fc.property(structuredTomlArb, envArb, (text, { env }) => {
        counts.tick('settings.toml and environment together');
        writeFileSync(join(dir, SETTINGS_FILE), text);
        const both = load(dir, env);
        const fileOnly = load(dir, {});
        const envOnly = load(emptyDir, env);
        // A problem of the environment alone is still a problem with the file under it.
        if ('error' in envOnly && 'error' in both) {
          for (const problem of envOnly.error.problems.filter((p) => /unknown (variable|section)/.test(p)))
            expect(both.error.problems).toContain(problem);
        }
        if ('config' in both && 'config' in fileOnly && env.PIKO_LOG_LEVEL?.trim()) {
          expect(both.config.piko.logLevel).toBe(env.PIKO_LOG_LEVEL.toLowerCase());
        }
      }),
      fuzzRuns(200),
    );
  });
});
