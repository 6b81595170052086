/**
 * Piko's configuration: defaults < `settings.toml` at the project root < `PIKO_*` environment variables.
 *
 * Keys of `[piko]` map to `PIKO_<KEY>` (`log_level` ↔ `PIKO_LOG_LEVEL`); keys of other sections to
 * `PIKO_<SECTION>__<KEY>` (`[mysql] pool_size` ↔ `PIKO_MYSQL__POOL_SIZE`). Everything is validated at
 * once: unknown keys and variables are errors too, and every problem is reported in one `ConfigError`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import * as z from 'zod';
import { ConfigError } from './errors.ts';
import { AWS_REGION_PATTERN, STACK_NAME_PATTERN } from './stack/outputs.ts';

import { type PikoLogLevel, REDACTED, registerSecret } from './telemetry.ts';

/** The `[piko]` section. */
export interface PikoSettings {
  /** Lowest level logged. @default 'info' */
  readonly logLevel: PikoLogLevel;
  /** JSON log lines instead of readable ones. @default true in Lambda (`AWS_LAMBDA_FUNCTION_NAME` set), else false */
  readonly logJson: boolean;
  /** Local state and output, relative to the project root. @default '.piko' */
  readonly dataDir: string;
  /** Where the jobs live, relative to the project root. @default 'functions/jobs' */
  readonly jobsDir: string;
  /** On SIGINT/SIGTERM, how long running intervals may take to finish. @default 30 */
  readonly shutdownGraceSeconds: number;
  /** Runs given to one workflow execution at most. @default 500 */
  readonly maxRunsPerExecution: number;
  /** Intervals one backfill request may cover at most. @default 1000000 */
  readonly maxBackfillIntervals: number;
  /** Times a run is put back to pending (store unavailable, execution lost) before it is failed. @default 5 */
  readonly maxRequeues: number;
  /** Delay before a requeued run runs again, doubled at each requeue (at most 10 min). @default 10 */
  readonly requeueDelaySeconds: number;
  /** How far a job's watermark may be ahead of this clock before its planning stops (ClockSkewError). @default 300 */
  readonly clockSkewToleranceSeconds: number;
  /**
   * How often a running stage reads its run's status, to see a cancel made by another process (its
   * handler's `ctx.signal` aborts then). @default 5
   */
  readonly cancelPollSeconds: number;
}

/** The `[mysql]` section: the state store on MySQL/Aurora instead of SQLite. */
export interface MysqlSettings {
  /** `mysql://user:password@host:3306/database`; when set, state lives in MySQL. @default - (SQLite) */
  readonly dsn?: string;
  /** Connections of the state store's pool. @default 10 */
  readonly poolSize: number;
  /**
   * Longest a state-store statement waits for the server, in seconds; then it fails as the store
   * being unavailable and its connection is dropped. @default 30
   */
  readonly queryTimeoutSeconds: number;
  /** Authenticate with an RDS IAM token instead of a password (TLS). @default false */
  readonly iamAuth: boolean;
  /** Region used to sign IAM tokens. @default aws.region */
  readonly region?: string;
  /** How far this clock may be from the server's `NOW(3)` before planning stops (ClockSkewError). @default 300 */
  readonly serverClockToleranceSeconds: number;
}

/** The `[sqlite]` section: the embedded state store. */
export interface SqliteSettings {
  /** The database file, relative to the project root. @default '<piko.data_dir>/piko.db', i.e. '.piko/piko.db' */
  readonly file: string;
}

/** The `[runtime]` section: the local runtime (`piko start`, `piko run`, `piko backfill`). */
export interface RuntimeSettings {
  /**
   * How long a runtime's lease of a workflow execution lasts unless its heartbeat (every third of it)
   * renews it: when several runtimes share one state store, another runtime takes an execution over
   * only after its lease expired (at once when its holder was a process on the same host that is
   * gone). A runtime whose heartbeat has not reached the store for two thirds of it starts no new
   * stage of its executions until the store answers again. @default 30
   */
  readonly leaseSeconds: number;
}

/** The `[aws]` section. */
export interface AwsSettings {
  /** The AWS region. @default the `AWS_REGION` environment variable, if set */
  readonly region?: string;
  /** The CloudFormation stack name. @default 'Piko' */
  readonly stackName: string;
  /**
   * The ECS cluster (ARN) of the stack's Fargate stages: the dispatcher stops the task of a
   * cancelled run's Fargate stage there (the stack sets it on the dispatcher). @default - none (no
   * task is stopped; a cancelled stage stops at its next cancel poll)
   */
  readonly ecsCluster?: string;
}

/** The `[objects]` section: where `objectStore()` resources keep job outputs. */
export interface ObjectsSettings {
  /**
   * The S3 bucket (the stack's job-outputs bucket, set on the jobs that declare `objectStore()`).
   * @default - (a folder: '<piko.data_dir>/objects')
   */
  readonly bucket?: string;
}

/** The `[ui]` section: the web UI that `piko start` and `piko ui` serve. */
export interface UiSettings {
  /** The address the UI listens on; anything but loopback needs `token`. @default '127.0.0.1' */
  readonly host: string;
  /** The port the UI listens on. @default 4310 */
  readonly port: number;
  /**
   * The token every action (POST) must carry, at least 16 characters; never printed.
   * @default - a random token per start, printed with the UI's address
   */
  readonly token?: string;
}

/** The `[logs]` section: the per-run log files of the local runtime (`<piko.data_dir>/logs/<job>/<run id>.log`). */
export interface LogsSettings {
  /** Bytes of one run's log file at most (every attempt together, its truncation marker included); at least 4096. @default 1048576 */
  readonly maxRunBytes: number;
  /** Bytes of every run's log file together; beyond it the oldest files are removed. At least max_run_bytes. @default 268435456 */
  readonly maxTotalBytes: number;
}

/** The `[alerts]` section: deadline and skip alerts of the local runtime (DESIGN.md §9). */
export interface AlertsSettings {
  /**
   * Where each alert is POSTed as JSON (http or https); a failing webhook is retried, never fails a
   * run. Never printed (it may hold a token). @default - no webhook: alerts are log lines only
   */
  readonly webhookUrl?: string;
  /** POSTs per alert at most, the first included (1 s, 2 s, 4 s … apart, at most 30 s). @default 5 */
  readonly webhookAttempts: number;
  /** How often the local runtime's watchdog checks deadlines, in seconds. @default 60 */
  readonly checkSeconds: number;
}

/** The whole validated configuration. */
export interface PikoConfig {
  readonly piko: PikoSettings;
  readonly mysql: MysqlSettings;
  readonly sqlite: SqliteSettings;
  readonly runtime: RuntimeSettings;
  readonly aws: AwsSettings;
  readonly objects: ObjectsSettings;
  readonly ui: UiSettings;
  readonly logs: LogsSettings;
  readonly alerts: AlertsSettings;
}

/** Where {@link loadConfig} looks. */
export interface LoadConfigOptions {
  /** The project root, where `settings.toml` is read from. @default process.cwd() */
  readonly cwd?: string;
  /** The environment. @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** The settings file's name, at the project root. */
export const SETTINGS_FILE = 'settings.toml';

/** Environment variables that configure Piko start with this. */
export const ENV_PREFIX = 'PIKO_';

/**
 * `PIKO_*` variables that are not settings: what the infrastructure hands a function or container
 * (the stage event, the job id, resource names) and the test suites' own (`PIKO_TEST_*`).
 */
export const RUNTIME_VARIABLES: ReadonlySet<string> = new Set([
  'PIKO_STAGE_EVENT',
  'PIKO_JOB_ID',
  'PIKO_STATE_MACHINE_PREFIX',
  'PIKO_STACK_NAME',
]);

function isRuntimeVariable(name: string): boolean {
  return RUNTIME_VARIABLES.has(name) || name.startsWith(`${ENV_PREFIX}TEST_`);
}

const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
/** An ECS cluster ARN: `arn:<partition>:ecs:<region>:<account>:cluster/<name>`. */
const ECS_CLUSTER_ARN = /^arn:[a-z-]+:ecs:[a-z0-9-]+:\d{12}:cluster\/[A-Za-z0-9_-]{1,255}$/;

/** S3's rule for general purpose bucket names. */
const BUCKET_NAME = /^(?!xn--|sthree-)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/** Host names and IPv4/IPv6 addresses, without a port. */
const HOST_NAME = /^(?:[A-Za-z0-9.-]+|\[?[0-9A-Fa-f:.]+\]?)$/;
/** Default of `[logs] max_run_bytes`: 1 MiB per run. */
export const DEFAULT_MAX_RUN_LOG_BYTES = 1_048_576;
/** Default of `[logs] max_total_bytes`: 256 MiB for every run's log together. */
export const DEFAULT_MAX_TOTAL_LOG_BYTES = 268_435_456;
/** The smallest `[logs] max_run_bytes` accepted: room for a few lines and the truncation marker. */
export const MIN_RUN_LOG_BYTES = 4_096;
/** The shortest `[ui] token` accepted: a short one could be guessed. */
export const MIN_UI_TOKEN_LENGTH = 16;
/** A token travels in a form field and a cookie: nothing that needs escaping there. */
const UI_TOKEN = /^[A-Za-z0-9._-]+$/;
/** Keys whose values are never printed (a webhook URL often holds a token: Slack, Teams). */
const SECRET_KEY = /dsn|password|token|secret|webhook_url/i;

/** Attaches the human description used in error messages ("expected …"). */
function field<S extends z.ZodType>(schema: S, expected: string): S {
  return schema.describe(expected);
}

const path = () => field(z.string().min(1), 'a non-empty path');
const positiveInt = () => field(z.number().int().positive(), 'an integer greater than 0');
const bool = () => field(z.boolean(), 'true or false');
const region = () =>
  field(z.string().regex(AWS_REGION_PATTERN).optional(), 'an AWS region such as eu-west-1');

const SECTIONS = {
  piko: z.object({
    logLevel: field(
      z
        .string()
        .transform((s) => s.toLowerCase())
        .pipe(z.enum(LOG_LEVELS)),
      'one of debug, info, warn, error',
    ),
    logJson: bool(),
    dataDir: path(),
    jobsDir: path(),
    shutdownGraceSeconds: field(z.number().int().nonnegative(), 'an integer of 0 or more'),
    maxRunsPerExecution: positiveInt(),
    maxBackfillIntervals: positiveInt(),
    maxRequeues: field(z.number().int().nonnegative(), 'an integer of 0 or more'),
    requeueDelaySeconds: field(z.number().int().nonnegative(), 'an integer of 0 or more'),
    clockSkewToleranceSeconds: field(z.number().int().nonnegative(), 'an integer of 0 or more'),
    cancelPollSeconds: field(z.number().positive(), 'a number of seconds greater than 0'),
  }) satisfies z.ZodType<PikoSettings>,
  mysql: z.object({
    dsn: field(
      z.string().refine(isMysqlUrl).optional(),
      'a URL like mysql://user:password@host:3306/database',
    ),
    poolSize: positiveInt(),
    queryTimeoutSeconds: field(z.number().positive(), 'a number of seconds greater than 0'),
    iamAuth: bool(),
    region: region(),
    serverClockToleranceSeconds: field(z.number().int().nonnegative(), 'an integer of 0 or more'),
  }) satisfies z.ZodType<MysqlSettings>,
  sqlite: z.object({ file: path() }) satisfies z.ZodType<SqliteSettings>,
  runtime: z.object({
    leaseSeconds: field(z.number().min(1), 'a number of seconds of 1 or more'),
  }) satisfies z.ZodType<RuntimeSettings>,
  aws: z.object({
    region: region(),
    stackName: field(
      z.string().regex(STACK_NAME_PATTERN),
      'a CloudFormation stack name (a letter, then letters, digits or hyphens; at most 128 characters)',
    ),
    ecsCluster: field(
      z.string().regex(ECS_CLUSTER_ARN).optional(),
      'an ECS cluster ARN (arn:aws:ecs:<region>:<account>:cluster/<name>)',
    ),
  }) satisfies z.ZodType<AwsSettings>,
  objects: z.object({
    bucket: field(
      z.string().regex(BUCKET_NAME).optional(),
      'an S3 bucket name (3 to 63 lowercase letters, digits, dots or hyphens)',
    ),
  }) satisfies z.ZodType<ObjectsSettings>,
  ui: z.object({
    host: field(z.string().min(1).regex(HOST_NAME), 'a host name or IP address such as 127.0.0.1'),
    port: field(z.number().int().min(1).max(65_535), 'a port from 1 to 65535'),
    token: field(
      z.string().min(MIN_UI_TOKEN_LENGTH).regex(UI_TOKEN).optional(),
      `at least ${MIN_UI_TOKEN_LENGTH} letters, digits, '-', '_' or '.'`,
    ),
  }) satisfies z.ZodType<UiSettings>,
  logs: z.object({
    maxRunBytes: field(
      z.number().int().min(MIN_RUN_LOG_BYTES),
      `a whole number of bytes of ${MIN_RUN_LOG_BYTES} or more`,
    ),
    maxTotalBytes: positiveInt(),
  }) satisfies z.ZodType<LogsSettings>,
  alerts: z.object({
    webhookUrl: field(z.string().refine(isHttpUrl).optional(), 'an http or https URL'),
    webhookAttempts: field(z.number().int().min(1).max(20), 'an integer from 1 to 20'),
    checkSeconds: field(z.number().int().min(1).max(86_400), 'an integer of seconds from 1 to 86400'),
  }) satisfies z.ZodType<AlertsSettings>,
};

type Section = keyof typeof SECTIONS;
const SECTION_NAMES = Object.keys(SECTIONS) as Section[];

/** Defaults, resolved in one place; a section may depend on sections validated before it. */
function defaultsOf(
  section: Section,
  env: NonNullable<LoadConfigOptions['env']>,
  done: Partial<PikoConfig>,
): Record<string, unknown> {
  switch (section) {
    case 'piko':
      return {
        logLevel: 'info',
        logJson: Boolean(env.AWS_LAMBDA_FUNCTION_NAME),
        dataDir: '.piko',
        jobsDir: 'functions/jobs',
        shutdownGraceSeconds: 30,
        maxRunsPerExecution: 500,
        maxBackfillIntervals: 1_000_000,
        maxRequeues: 5,
        requeueDelaySeconds: 10,
        clockSkewToleranceSeconds: 300,
        cancelPollSeconds: 5,
      };
    case 'aws':
      return { region: env.AWS_REGION || undefined, stackName: 'Piko' };
    case 'mysql':
      return {
        poolSize: 10,
        queryTimeoutSeconds: 30,
        iamAuth: false,
        region: done.aws?.region,
        serverClockToleranceSeconds: 300,
      };
    case 'sqlite':
      return { file: join(done.piko?.dataDir ?? '.piko', 'piko.db') };
    case 'runtime':
      return { leaseSeconds: 30 };
    case 'objects':
      return {};
    case 'ui':
      return { host: '127.0.0.1', port: 4310 };
    case 'logs':
      return { maxRunBytes: DEFAULT_MAX_RUN_LOG_BYTES, maxTotalBytes: DEFAULT_MAX_TOTAL_LOG_BYTES };
    case 'alerts':
      return { webhookAttempts: 5, checkSeconds: 60 };
  }
}
/** Validation order: defaults of later sections may read earlier ones. */
const RESOLUTION_ORDER: readonly Section[] = [
  'piko',
  'aws',
  'mysql',
  'sqlite',
  'runtime',
  'objects',
  'ui',
  'logs',
  'alerts',
];

const snake = (camel: string) => camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const envName = (section: Section, key: string) =>
  `${ENV_PREFIX}${section === 'piko' ? '' : `${section.toUpperCase()}__`}${key.toUpperCase()}`;

/** snake_case key → camelCase property, per section. */
const KEYS: { [S in Section]: Map<string, string> } = Object.fromEntries(
  SECTION_NAMES.map((s) => [s, new Map(Object.keys(SECTIONS[s].shape).map((prop) => [snake(prop), prop]))]),
) as { [S in Section]: Map<string, string> };

interface Setting {
  readonly value: unknown;
  /** `settings.toml`, `environment variable PIKO_…` or `default`. */
  readonly source: string;
}

/**
 * Reads, merges and validates the configuration: defaults < `settings.toml` in `cwd` < `PIKO_*`
 * variables of `env`. Environment strings are converted to numbers and booleans (`true`/`false`,
 * `1`/`0`, `yes`/`no`, `on`/`off`); an empty variable counts as unset.
 * @throws ConfigError listing every invalid or unknown key at once, one line each, with its value
 * (never for keys named like dsn, password, token or secret) and its source.
 */
export function loadConfig(options: LoadConfigOptions = {}): PikoConfig {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  const problems: string[] = [];
  const given = new Map<string, Setting>(); // `${section}.${prop}` → value and source

  readSettingsFile(join(cwd, SETTINGS_FILE), given, problems);
  readEnvironment(env, given, problems);

  const done: { -readonly [S in Section]?: PikoConfig[S] } = {};
  for (const section of RESOLUTION_ORDER) {
    const schema = SECTIONS[section];
    const defaults = defaultsOf(section, env, done);
    const values: Record<string, unknown> = {};
    let valid = true;
    for (const [prop, propSchema] of Object.entries(schema.shape) as [string, z.ZodType][]) {
      const setting = given.get(`${section}.${prop}`) ?? { value: defaults[prop], source: 'default' };
      const result = propSchema.safeParse(setting.value);
      if (result.success) {
        values[prop] = result.data;
      } else {
        valid = false;
        problems.push(
          `${describeSetting(section, snake(prop), setting)}: expected ${propSchema.description}`,
        );
      }
    }
    if (valid) Object.assign(done, { [section]: Object.freeze(schema.parse(values)) });
  }

  if (done.mysql) checkMysql(done.mysql, given, problems);
  if (done.ui) checkUi(done.ui, given, problems);
  if (done.logs) checkLogs(done.logs, given, problems);
  // A webhook URL may carry its token in the path or query: no log line or message shows it.
  registerSecret(done.alerts?.webhookUrl);
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(done as PikoConfig);
}

let processConfig: PikoConfig | undefined;

/**
 * The process's configuration: {@link loadConfig} with the process's working directory and
 * environment, loaded on first call and kept.
 */
export function getConfig(): PikoConfig {
  processConfig ??= loadConfig();
  return processConfig;
}

function readSettingsFile(file: string, given: Map<string, Setting>, problems: string[]): void {
  if (!existsSync(file)) return;
  let document: Record<string, unknown>;
  try {
    document = parseToml(readFileSync(file, 'utf8'));
  } catch (err) {
    if (!(err instanceof TomlError)) throw err;
    const firstLine = err.message.split('\n')[0];
    problems.push(`${SETTINGS_FILE} (line ${err.line}, column ${err.column}): ${firstLine}`);
    return;
  }
  const source = SETTINGS_FILE;
  for (const [name, table] of Object.entries(document)) {
    if (!isSection(name) || !isPlainTable(table)) {
      const what = isPlainTable(table) ? `[${name}]` : `${name} = ${display(name, table)}`;
      const where = isPlainTable(table) ? 'unknown section' : 'unknown key outside any section';
      problems.push(`${what} (${source}): ${where}; known sections: ${SECTION_NAMES.join(', ')}`);
      continue;
    }
    for (const [key, value] of Object.entries(table)) {
      const prop = KEYS[name].get(key);
      if (prop === undefined) {
        const known = [...KEYS[name].keys()].join(', ');
        problems.push(
          `${name}.${key} = ${display(key, value)} (${source}): unknown key; known keys in [${name}]: ${known}`,
        );
        continue;
      }
      given.set(`${name}.${prop}`, { value, source });
    }
  }
}

function readEnvironment(
  env: NonNullable<LoadConfigOptions['env']>,
  given: Map<string, Setting>,
  problems: string[],
) {
  for (const name of Object.keys(env).sort()) {
    const raw = env[name];
    if (!name.startsWith(ENV_PREFIX) || raw === undefined || raw === '') continue;
    if (isRuntimeVariable(name)) continue;
    const rest = name.slice(ENV_PREFIX.length);
    const split = rest.indexOf('__');
    const section = (split < 0 ? 'piko' : rest.slice(0, split)).toLowerCase();
    const key = (split < 0 ? rest : rest.slice(split + 2)).toLowerCase();
    const source = `environment variable ${name}`;
    if (!isSection(section)) {
      problems.push(
        `${section}.${key} = ${display(key, raw)} (${source}): unknown section "${section}"; known sections: ${SECTION_NAMES.join(', ')}`,
      );
      continue;
    }
    const prop = KEYS[section].get(key);
    if (prop === undefined) {
      const known = [...KEYS[section].keys()].map((k) => envName(section, k)).join(', ');
      problems.push(
        `${section}.${key} = ${display(key, raw)} (${source}): unknown variable; known for [${section}]: ${known}`,
      );
      continue;
    }
    given.set(`${section}.${prop}`, { value: coerceEnv(SECTIONS[section].shape, prop, raw), source });
  }
}

/** Options of `[mysql]` that only make sense together. */
function checkMysql(mysql: MysqlSettings, given: Map<string, Setting>, problems: string[]): void {
  if (mysql.dsn !== undefined) {
    // Both forms: the DSN's percent-encoding need not be encodeURIComponent's, and may be malformed.
    const password = new URL(mysql.dsn).password;
    registerSecret(password);
    registerSecret(decodeOrKeep(password));
  }
  if (!mysql.iamAuth) return;
  const iam = describeSetting(
    'mysql',
    'iam_auth',
    given.get('mysql.iamAuth') ?? { value: true, source: 'default' },
  );
  if (mysql.dsn === undefined) {
    problems.push(`${iam}: IAM authentication needs mysql.dsn (PIKO_MYSQL__DSN)`);
  } else if (new URL(mysql.dsn).password !== '') {
    problems.push(`${iam}: mysql.dsn must not contain a password when IAM authentication is on`);
  }
  if (mysql.region === undefined) {
    problems.push(`${iam}: IAM authentication needs a region: set mysql.region, aws.region or AWS_REGION`);
  }
}

/**
 * The UI's actions are guarded by a token; on a loopback address only this machine's browsers reach
 * it, but any other address lets the network in, so it needs a token the operator chose.
 */
function checkUi(ui: UiSettings, given: Map<string, Setting>, problems: string[]): void {
  registerSecret(ui.token);
  if (ui.token !== undefined || isLoopbackHost(ui.host)) return;
  const host = describeSetting('ui', 'host', given.get('ui.host') ?? { value: ui.host, source: 'default' });
  problems.push(
    `${host}: the UI listens beyond this machine only with ui.token set (PIKO_UI__TOKEN, at least ${MIN_UI_TOKEN_LENGTH} characters)`,
  );
}

/** A run's log cannot be bigger than all of them together. */
function checkLogs(logs: LogsSettings, given: Map<string, Setting>, problems: string[]): void {
  if (logs.maxTotalBytes >= logs.maxRunBytes) return;
  const total = describeSetting(
    'logs',
    'max_total_bytes',
    given.get('logs.maxTotalBytes') ?? { value: logs.maxTotalBytes, source: 'default' },
  );
  problems.push(`${total}: must be at least logs.max_run_bytes (${logs.maxRunBytes})`);
}

/** True for addresses only this machine reaches: `localhost`, 127.0.0.0/8 and `::1`. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127(?:\.\d{1,3}){3}$/.test(bare);
}

/** Converts an environment string to the type its key expects; leaves it as is when it does not parse. */
function coerceEnv(shape: Record<string, z.ZodType>, prop: string, raw: string): unknown {
  const kind = baseType(shape[prop]!);
  const text = raw.trim();
  if (kind === 'boolean') {
    const lower = text.toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(lower)) return true;
    if (['false', '0', 'no', 'off'].includes(lower)) return false;
  }
  if (kind === 'number' && /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text)) return Number(text);
  return raw;
}

/** The zod type under `optional()`. */
function baseType(schema: z.ZodType): string {
  const def = schema.def as { type: string; innerType?: z.ZodType };
  return def.innerType ? baseType(def.innerType) : def.type;
}

function describeSetting(section: Section, key: string, setting: Setting): string {
  return `${section}.${key} = ${display(key, setting.value)} (${setting.source})`;
}

/** A value as printed in a problem; secrets are never printed. */
function display(key: string, value: unknown): string {
  if (SECRET_KEY.test(key)) return REDACTED;
  if (value === undefined) return '(unset)';
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  return JSON.stringify(value) ?? String(value);
}

/** Percent-decodes a URL part; a malformed escape (`%zz`) leaves it as it is. */
function decodeOrKeep(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

function isSection(name: string): name is Section {
  return Object.hasOwn(SECTIONS, name);
}

function isPlainTable(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}

function isMysqlUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'mysql:' || url.protocol === 'mariadb:') && url.hostname !== '';
  } catch {
    return false;
  }
}
