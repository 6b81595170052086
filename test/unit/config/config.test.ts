import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../shared/config.ts';
import { ConfigError } from '../../../shared/errors.ts';
import { errorMessage } from '../../../shared/telemetry.ts';

describe('loadConfig', () => {
  let cwd: string;
  beforeEach(() => {
    cwd = mkdtempSync(join(tmpdir(), 'piko-config-'));
  });
  afterEach(() => {
    rmSync(cwd, { recursive: true, force: true });
  });
  const settings = (toml: string) => writeFileSync(join(cwd, 'settings.toml'), toml);
  /** The problems of the ConfigError `loadConfig` throws. */
  const problemsOf = (env: Record<string, string>): readonly string[] => {
    try {
      loadConfig({ cwd, env });
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
    throw new Error('loadConfig did not throw');
  };

  it('uses the defaults when there is no settings.toml and no PIKO_* variable', () => {
    const config = loadConfig({ cwd, env: { HOME: '/home/me' } });

    expect(config).toEqual({
      piko: {
        logLevel: 'info',
        logJson: false,
        dataDir: '.piko',
        jobsDir: 'functions/jobs',
        shutdownGraceSeconds: 30,
        maxRunsPerExecution: 500,
        maxBackfillIntervals: 1_000_000,
        maxRequeues: 5,
        requeueDelaySeconds: 10,
        clockSkewToleranceSeconds: 300,
        cancelPollSeconds: 5,
      },
      mysql: { poolSize: 10, queryTimeoutSeconds: 30, iamAuth: false, serverClockToleranceSeconds: 300 },
      sqlite: { file: '.piko/piko.db' },
      runtime: { leaseSeconds: 30 },
      aws: { stackName: 'Piko' },
      objects: {},
      ui: { host: '127.0.0.1', port: 4310 },
      logs: { maxRunBytes: 1_048_576, maxTotalBytes: 268_435_456 },
      alerts: { webhookAttempts: 5, checkSeconds: 60 },
    });
  });

  it('reads the run log bounds from [logs] and PIKO_LOGS__*, and refuses a total below one run', () => {
    settings('[logs]\nmax_run_bytes = 65536\n');
    expect(loadConfig({ cwd, env: {} }).logs).toEqual({ maxRunBytes: 65_536, maxTotalBytes: 268_435_456 });
    expect(loadConfig({ cwd, env: { PIKO_LOGS__MAX_TOTAL_BYTES: '100000' } }).logs.maxTotalBytes).toBe(
      100_000,
    );

    expect(problemsOf({ PIKO_LOGS__MAX_RUN_BYTES: '100' })).toEqual([
      'logs.max_run_bytes = 100 (environment variable PIKO_LOGS__MAX_RUN_BYTES): expected a whole number of bytes of 4096 or more',
    ]);
    expect(problemsOf({ PIKO_LOGS__MAX_TOTAL_BYTES: '5000' })).toEqual([
      'logs.max_total_bytes = 5000 (environment variable PIKO_LOGS__MAX_TOTAL_BYTES): must be at least logs.max_run_bytes (65536)',
    ]);
  });

  it('reads the alert webhook and watchdog period from [alerts] and PIKO_ALERTS__*, never printing the URL', () => {
    settings('[alerts]\nwebhook_url = "https://hooks.example.com/T000/secret-path"\ncheck_seconds = 30\n');
    expect(loadConfig({ cwd, env: {} }).alerts).toEqual({
      webhookUrl: 'https://hooks.example.com/T000/secret-path',
      webhookAttempts: 5,
      checkSeconds: 30,
    });
    expect(
      loadConfig({
        cwd,
        env: { PIKO_ALERTS__WEBHOOK_URL: 'http://127.0.0.1:9000/alerts', PIKO_ALERTS__CHECK_SECONDS: '5' },
      }).alerts,
    ).toEqual({ webhookUrl: 'http://127.0.0.1:9000/alerts', webhookAttempts: 5, checkSeconds: 5 });

    expect(
      problemsOf({
        PIKO_ALERTS__WEBHOOK_URL: 'ftp://hooks.example.com/x',
        PIKO_ALERTS__CHECK_SECONDS: '0',
        PIKO_ALERTS__WEBHOOK_ATTEMPTS: '50',
      }),
    ).toEqual([
      'alerts.webhook_url = <redacted> (environment variable PIKO_ALERTS__WEBHOOK_URL): expected an http or https URL',
      'alerts.webhook_attempts = 50 (environment variable PIKO_ALERTS__WEBHOOK_ATTEMPTS): expected an integer from 1 to 20',
      'alerts.check_seconds = 0 (environment variable PIKO_ALERTS__CHECK_SECONDS): expected an integer of seconds from 1 to 86400',
    ]);
  });

  it('reads the web UI address and token from [ui] and PIKO_UI__*, and refuses a public address without a token', () => {
    settings('[ui]\nport = 8080\n');
    expect(loadConfig({ cwd, env: {} }).ui).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(
      loadConfig({ cwd, env: { PIKO_UI__HOST: '0.0.0.0', PIKO_UI__TOKEN: 'operator-token-0123' } }).ui,
    ).toEqual({ host: '0.0.0.0', port: 8080, token: 'operator-token-0123' });

    expect(problemsOf({ PIKO_UI__HOST: '0.0.0.0' })).toEqual([
      'ui.host = "0.0.0.0" (environment variable PIKO_UI__HOST): the UI listens beyond this machine only with ui.token set (PIKO_UI__TOKEN, at least 16 characters)',
    ]);
    expect(problemsOf({ PIKO_UI__PORT: '70000', PIKO_UI__TOKEN: 'short' })).toEqual([
      'ui.port = 70000 (environment variable PIKO_UI__PORT): expected a port from 1 to 65535',
      "ui.token = <redacted> (environment variable PIKO_UI__TOKEN): expected at least 16 letters, digits, '-', '_' or '.'",
    ]);
  });

  it('reads the job-outputs bucket from [objects] bucket and PIKO_OBJECTS__BUCKET, and refuses a bad name', () => {
    settings('[objects]\nbucket = "piko-job-outputs"\n');
    expect(loadConfig({ cwd, env: {} }).objects).toEqual({ bucket: 'piko-job-outputs' });
    expect(loadConfig({ cwd, env: { PIKO_OBJECTS__BUCKET: 'other-bucket' } }).objects.bucket).toBe(
      'other-bucket',
    );

    expect(() => loadConfig({ cwd, env: { PIKO_OBJECTS__BUCKET: 'Bad_Bucket' } })).toThrow(
      'Invalid configuration:\n  - objects.bucket = "Bad_Bucket" (environment variable PIKO_OBJECTS__BUCKET): ' +
        'expected an S3 bucket name (3 to 63 lowercase letters, digits, dots or hyphens)',
    );
  });

  it('reads the execution lease from [runtime] lease_seconds and PIKO_RUNTIME__LEASE_SECONDS, and refuses less than 1 s', () => {
    settings('[runtime]\nlease_seconds = 12.5\n');
    expect(loadConfig({ cwd, env: {} }).runtime).toEqual({ leaseSeconds: 12.5 });
    expect(loadConfig({ cwd, env: { PIKO_RUNTIME__LEASE_SECONDS: '90' } }).runtime.leaseSeconds).toBe(90);

    expect(() => loadConfig({ cwd, env: { PIKO_RUNTIME__LEASE_SECONDS: '0.5' } })).toThrow(
      'Invalid configuration:\n  - runtime.lease_seconds = 0.5 (environment variable PIKO_RUNTIME__LEASE_SECONDS): ' +
        'expected a number of seconds of 1 or more',
    );
    expect(() => loadConfig({ cwd, env: { PIKO_RUNTIME__LEASE_SECONDS: 'soon' } })).toThrow(
      'Invalid configuration:\n  - runtime.lease_seconds = "soon" (environment variable PIKO_RUNTIME__LEASE_SECONDS): ' +
        'expected a number of seconds of 1 or more',
    );
  });

  it('logs JSON by default in Lambda and takes the region from AWS_REGION', () => {
    const config = loadConfig({
      cwd,
      env: { AWS_LAMBDA_FUNCTION_NAME: 'piko-dispatcher', AWS_REGION: 'eu-west-1' },
    });

    expect(config.piko.logJson).toBe(true);
    expect(config.aws.region).toBe('eu-west-1');
    expect(config.mysql.region).toBe('eu-west-1');
  });

  it('reads settings.toml over the defaults and the environment over settings.toml', () => {
    settings(`
[piko]
log_level = "debug"
data_dir = "var/piko"
shutdown_grace_seconds = 5

[mysql]
dsn = "mysql://app:secret@db.internal:3307/piko"
pool_size = 4

[aws]
stack_name = "PikoStaging"
`);

    const config = loadConfig({
      cwd,
      env: { PIKO_LOG_LEVEL: 'WARN', PIKO_MYSQL__POOL_SIZE: '20', PIKO_LOG_JSON: 'yes' },
    });

    expect(config.piko).toMatchObject({
      logLevel: 'warn',
      logJson: true,
      dataDir: 'var/piko',
      shutdownGraceSeconds: 5,
    });
    expect(config.mysql).toEqual({
      dsn: 'mysql://app:secret@db.internal:3307/piko',
      poolSize: 20,
      queryTimeoutSeconds: 30,
      iamAuth: false,
      serverClockToleranceSeconds: 300,
    });
    expect(config.sqlite.file).toBe('var/piko/piko.db');
    expect(config.aws.stackName).toBe('PikoStaging');
  });

  it('converts environment strings to numbers and booleans', () => {
    const config = loadConfig({
      cwd,
      env: {
        PIKO_MAX_RUNS_PER_EXECUTION: ' 250 ',
        PIKO_LOG_JSON: 'FALSE',
        PIKO_MYSQL__IAM_AUTH: '0',
        PIKO_SQLITE__FILE: '/tmp/state.db',
        PIKO_AWS__REGION: 'ap-southeast-1',
      },
    });

    expect(config.piko.maxRunsPerExecution).toBe(250);
    expect(config.piko.logJson).toBe(false);
    expect(config.mysql.iamAuth).toBe(false);
    expect(config.sqlite.file).toBe('/tmp/state.db');
    expect(config.aws.region).toBe('ap-southeast-1');
  });

  it('treats an empty variable as unset', () => {
    settings('[mysql]\npool_size = 3\n');

    const config = loadConfig({ cwd, env: { PIKO_MYSQL__POOL_SIZE: '', PIKO_MYSQL__DSN: '' } });

    expect(config.mysql.poolSize).toBe(3);
    expect(config.mysql.dsn).toBeUndefined();
  });

  it('reports every invalid and unknown key at once, with its value and source', () => {
    settings(`
log_level = "debug"

[piko]
log_level = "verbose"
colour = "red"

[mysql]
pool_size = 0
iam_auth = "yes"

[redis]
url = "redis://localhost"
`);

    const act = () =>
      loadConfig({
        cwd,
        env: {
          PIKO_SHUTDOWN_GRACE_SECONDS: 'soon',
          PIKO_MYSQL__POOLSIZE: '5',
          PIKO_QUEUE__URL: 'x',
          PIKO_AWS__STACK_NAME: '9lives',
        },
      });

    expect(act).toThrow(ConfigError);
    expect(act).toThrow(
      [
        'Invalid configuration:',
        '  - log_level = "debug" (settings.toml): unknown key outside any section; known sections: piko, mysql, sqlite, runtime, aws, objects, ui, logs, alerts',
        '  - piko.colour = "red" (settings.toml): unknown key; known keys in [piko]: log_level, log_json, data_dir, jobs_dir, shutdown_grace_seconds, max_runs_per_execution, max_backfill_intervals, max_requeues, requeue_delay_seconds, clock_skew_tolerance_seconds, cancel_poll_seconds',
        '  - [redis] (settings.toml): unknown section; known sections: piko, mysql, sqlite, runtime, aws, objects, ui, logs, alerts',
        '  - mysql.poolsize = "5" (environment variable PIKO_MYSQL__POOLSIZE): unknown variable; known for [mysql]: PIKO_MYSQL__DSN, PIKO_MYSQL__POOL_SIZE, PIKO_MYSQL__QUERY_TIMEOUT_SECONDS, PIKO_MYSQL__IAM_AUTH, PIKO_MYSQL__REGION, PIKO_MYSQL__SERVER_CLOCK_TOLERANCE_SECONDS',
        '  - queue.url = "x" (environment variable PIKO_QUEUE__URL): unknown section "queue"; known sections: piko, mysql, sqlite, runtime, aws, objects, ui, logs, alerts',
        '  - piko.log_level = "verbose" (settings.toml): expected one of debug, info, warn, error',
        '  - piko.shutdown_grace_seconds = "soon" (environment variable PIKO_SHUTDOWN_GRACE_SECONDS): expected an integer of 0 or more',
        '  - aws.stack_name = "9lives" (environment variable PIKO_AWS__STACK_NAME): expected a CloudFormation stack name (a letter, then letters, digits or hyphens; at most 128 characters)',
        '  - mysql.pool_size = 0 (settings.toml): expected an integer greater than 0',
        '  - mysql.iam_auth = "yes" (settings.toml): expected true or false',
      ].join('\n'),
    );
  });

  it('never prints the value of a secret key', () => {
    const problems = problemsOf({
      PIKO_MYSQL__DSN: 'postgres://app:hunter2@db/piko',
      PIKO_MYSQL__PASSWORD: 'hunter2',
      PIKO_API_TOKEN: 'tok-123456',
    });

    expect(problems).toEqual([
      'piko.api_token = <redacted> (environment variable PIKO_API_TOKEN): unknown variable; known for [piko]: PIKO_LOG_LEVEL, PIKO_LOG_JSON, PIKO_DATA_DIR, PIKO_JOBS_DIR, PIKO_SHUTDOWN_GRACE_SECONDS, PIKO_MAX_RUNS_PER_EXECUTION, PIKO_MAX_BACKFILL_INTERVALS, PIKO_MAX_REQUEUES, PIKO_REQUEUE_DELAY_SECONDS, PIKO_CLOCK_SKEW_TOLERANCE_SECONDS, PIKO_CANCEL_POLL_SECONDS',
      'mysql.password = <redacted> (environment variable PIKO_MYSQL__PASSWORD): unknown variable; known for [mysql]: PIKO_MYSQL__DSN, PIKO_MYSQL__POOL_SIZE, PIKO_MYSQL__QUERY_TIMEOUT_SECONDS, PIKO_MYSQL__IAM_AUTH, PIKO_MYSQL__REGION, PIKO_MYSQL__SERVER_CLOCK_TOLERANCE_SECONDS',
      'mysql.dsn = <redacted> (environment variable PIKO_MYSQL__DSN): expected a URL like mysql://user:password@host:3306/database',
    ]);
  });

  it('reports a default that cannot be used with source "default"', () => {
    const problems = problemsOf({ AWS_REGION: 'Europe' });

    expect(problems).toEqual(['aws.region = "Europe" (default): expected an AWS region such as eu-west-1']);
  });

  it('refuses IAM authentication without a DSN or a region, or with a password', () => {
    expect(problemsOf({ PIKO_MYSQL__IAM_AUTH: 'true' })).toEqual([
      'mysql.iam_auth = true (environment variable PIKO_MYSQL__IAM_AUTH): IAM authentication needs mysql.dsn (PIKO_MYSQL__DSN)',
      'mysql.iam_auth = true (environment variable PIKO_MYSQL__IAM_AUTH): IAM authentication needs a region: set mysql.region, aws.region or AWS_REGION',
    ]);
    expect(
      problemsOf({
        PIKO_MYSQL__IAM_AUTH: 'true',
        PIKO_MYSQL__DSN: 'mysql://app:pw@proxy/piko',
        AWS_REGION: 'eu-west-1',
      }),
    ).toEqual([
      'mysql.iam_auth = true (environment variable PIKO_MYSQL__IAM_AUTH): mysql.dsn must not contain a password when IAM authentication is on',
    ]);
  });

  it('accepts IAM authentication with a DSN without password and a region', () => {
    settings(
      '[mysql]\ndsn = "mysql://piko_app@proxy.internal:3306/piko"\niam_auth = true\nregion = "eu-central-1"\n',
    );

    const config = loadConfig({ cwd, env: {} });

    expect(config.mysql).toEqual({
      dsn: 'mysql://piko_app@proxy.internal:3306/piko',
      poolSize: 10,
      queryTimeoutSeconds: 30,
      iamAuth: true,
      region: 'eu-central-1',
      serverClockToleranceSeconds: 300,
    });
  });

  it('reports a settings.toml that does not parse, with its line and column', () => {
    settings('[piko]\nlog_level "debug"\n');

    expect(problemsOf({})).toEqual([
      'settings.toml (line 2, column 11): Invalid TOML document: illegal character in key',
    ]);
  });

  it('remembers the DSN password as a secret that error messages never show', () => {
    loadConfig({ cwd, env: { PIKO_MYSQL__DSN: 'mysql://app:s3cr%40t-pw@db/piko' } });

    const message = errorMessage(new Error('Access denied for password s3cr@t-pw'));

    expect(message).toBe('Access denied for password <redacted>');
  });
});
