/**
 * Logging and metrics, created once per process and imported everywhere (jobs get them from `#piko`).
 *
 * JSON lines (Powertools structure) in Lambda or when asked; readable single lines in a terminal:
 * `2026-11-26T11:00:00.000Z INFO  message key=value`.
 */
import { LogFormatter, Logger, LogItem } from '@aws-lambda-powertools/logger';
import type {
  ConstructorOptions,
  LogAttributes,
  UnformattedAttributes,
} from '@aws-lambda-powertools/logger/types';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { MAX_ERROR_MESSAGE_LENGTH, workflowErrorName } from './errors.ts';
import { ENV_STACK_NAME } from './stack/env.ts';

/** Log levels Piko accepts in its configuration. */
export type PikoLogLevel = 'debug' | 'info' | 'warn' | 'error';

/** What replaces a secret in logs and recorded errors. */
export const REDACTED = '<redacted>';

/** Secrets shorter than this are not searched for: replacing every `a` would wreck the text. */
const MIN_SECRET_LENGTH = 4;
/** How many registered secrets are kept (IAM tokens rotate; the oldest are forgotten). */
const MAX_REGISTERED_SECRETS = 64;
const registeredSecrets = new Set<string>();

/** `scheme://user:password@` in URLs and DSNs. */
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@:]*(?::[^\s/]*)?@/gi;
/**
 * Signed AWS URLs (RDS IAM tokens are such URLs), also percent-encoded as a whole (`X-Amz-Signature%3D…`,
 * ending at `%26`) or with `&` escaped (`\u0026`): none of the values holds `%26` or a backslash.
 */
const AWS_SIGNATURE_PARAMS =
  /(X-Amz-(?:Signature|Credential|Security-Token)(?:=|%3D))(?:(?!%26)[^&\s"'\\])+/gi;
/**
 * Names whose value is a secret, however they are written: `api_key`, `apiKey`, `API-KEY`,
 * `aws_secret_access_key`, `secretAccessKey`, `sessionToken`, `password`, `signature`…
 */
const SECRET_NAME =
  '(?:aws[_-]?)?(?:api[_-]?key|apikey|(?:access|refresh|id|auth|session|security|bearer)[_-]?token|token|' +
  'client[_-]?secret|secret[_-]?access[_-]?key|secret[_-]?key|private[_-]?key|secret|password|passwd|pwd|' +
  'signature|sig)';
/**
 * `name=value` and `name: value` for a {@link SECRET_NAME}: query strings (`?api_key=…&`), also
 * percent-encoded (`%3D`, ending at `%26`), environment lines, headers, JSON (`"password":"…"`, also
 * with escaped quotes) and DSN options (`Password=…;`). The name must not be part of a longer word
 * (`tokens: 3` stays; a percent-encoded `?`, `&` or space may precede it), and the value ends at `&`, white space, a quote, `,`, `;` or `%26`.
 */
const SECRET_ASSIGNMENT = new RegExp(
  `((?:(?<![A-Za-z0-9])|(?<=%3F|%26|%20))${SECRET_NAME}(?:\\\\?["'])?\\s*(?:=|:|%3D)\\s*(?:\\\\?["'])?)(?:(?!%26)[^&\\s"'\\\\,;])+`,
  'gi',
);
/** `Authorization: Bearer …` / `Basic …` (and any scheme after an `authorization` name), `Bearer …` alone. */
const AUTHORIZATION =
  /(\bauthorization["']?\s*[:=]\s*["']?(?:[A-Za-z-]+\s+)?|\b(?:Bearer|Basic)\s+)[A-Za-z0-9._~+/=-]+/gi;
/** AWS access key ids: long-term (`AKIA…`) and temporary (`ASIA…`). */
const AWS_ACCESS_KEY_ID = /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g;
/** A PEM private key, whole (or cut off before its END line). */
const PEM_PRIVATE_KEY = /(-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----)[\s\S]*?(?:-----END \2PRIVATE KEY-----|$)/g;
/** JSON Web Tokens: base64url header and payload (both JSON objects, so `eyJ…`), then the signature. */
const JWT = /\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;

/**
 * Remembers a secret (a password, an IAM token) so that {@link redact} and {@link errorMessage}
 * remove it from everything Piko logs or records. Secrets shorter than 4 characters are ignored.
 */
export function registerSecret(secret: string | undefined): void {
  if (!secret || secret.length < MIN_SECRET_LENGTH) return;
  registeredSecrets.delete(secret);
  registeredSecrets.add(secret);
  if (registeredSecrets.size > MAX_REGISTERED_SECRETS) {
    const oldest = registeredSecrets.values().next().value;
    if (oldest !== undefined) registeredSecrets.delete(oldest);
  }
}

/**
 * Removes secrets from a text: the usual shapes of secrets (`scheme://user:password@` credentials,
 * AWS signature parameters, `api_key=…`, `password: …`, `"token":"…"` and other secret names with a
 * value, `Authorization: Bearer …`, AWS access key ids, PEM private keys, JWTs), every secret in
 * `secrets` (also URL-encoded) and every secret given to {@link registerSecret} (among them the
 * values of config fields marked {@link secret}). Secrets shorter than 4 characters are not searched for.
 */
export function redact(text: string, secrets: readonly string[] = []): string {
  let result = text
    .replace(PEM_PRIVATE_KEY, `$1${REDACTED}`)
    .replace(URL_CREDENTIALS, `$1${REDACTED}@`)
    .replace(AWS_SIGNATURE_PARAMS, `$1${REDACTED}`)
    .replace(AUTHORIZATION, `$1${REDACTED}`)
    .replace(SECRET_ASSIGNMENT, `$1${REDACTED}`)
    .replace(AWS_ACCESS_KEY_ID, REDACTED)
    .replace(JWT, REDACTED);
  const all = [...secrets, ...registeredSecrets].filter((s) => s.length >= MIN_SECRET_LENGTH);
  // Longest first, so a secret that contains another is removed whole.
  for (const secret of [...new Set(all)].sort((a, b) => b.length - a.length)) {
    for (const form of new Set([secret, encodeURIComponent(secret)])) {
      result = result.split(form).join(REDACTED);
    }
  }
  return result;
}

/**
 * A one-line description of anything thrown, safe to record and print: `Name: message` (the name is
 * left out for plain `Error`), followed by `(cause: …)` for each cause, with secrets removed (see
 * {@link redact}) and cut to 1,000 characters.
 * @param secrets extra secrets to remove. @default [] (registered secrets are always removed)
 */
export function errorMessage(err: unknown, secrets: readonly string[] = []): string {
  const text = redact(describe(err, 0), secrets);
  return text.length <= MAX_ERROR_MESSAGE_LENGTH ? text : `${text.slice(0, MAX_ERROR_MESSAGE_LENGTH - 1)}…`;
}

/** Options of {@link withoutSecrets}. */
export interface WithoutSecretsOptions {
  /**
   * Give the error its whole description as its message ({@link errorMessage}: name, message and
   * causes), for readers that see nothing but the message (the dispatcher's answer to the `--aws` CLI).
   * @default false: its own message, led by its own name when it is reported under another
   */
  readonly described?: boolean;
}

/**
 * The error as Step Functions and the CLI will see it, safe to hand on (it ends up in execution
 * histories, the state table and the CLI's output): a plain `Error` under the name their Retry,
 * Catch and refusal lists match on ({@link workflowErrorName}: a subclass of NonRetryableError is
 * reported as `NonRetryableError`), with a message free of secrets (see {@link redact}).
 */
export function withoutSecrets(error: unknown, options: WithoutSecretsOptions = {}): Error {
  if (!(error instanceof Error)) return new Error(errorMessage(error));
  const name = workflowErrorName(error);
  const message = redact(error.message);
  const safe = new Error(
    options.described ? errorMessage(error) : name === error.name ? message : `${error.name}: ${message}`,
  );
  safe.name = name;
  return safe;
}

const MAX_CAUSE_DEPTH = 3;

function describe(err: unknown, depth: number): string {
  if (err instanceof Error) {
    const head = err.name && err.name !== 'Error' ? `${err.name}: ${err.message}` : err.message || err.name;
    const cause =
      'cause' in err && err.cause !== undefined && depth < MAX_CAUSE_DEPTH ? err.cause : undefined;
    return cause === undefined ? head : `${head} (cause: ${describe(cause, depth + 1)})`;
  }
  if (typeof err === 'string') return err;
  try {
    return JSON.stringify(err) ?? String(err);
  } catch {
    return String(err);
  }
}

const MAX_REDACT_DEPTH = 8;

/** A key that names a secret as a whole (`password`, `apiKey`, `client_secret`…). */
const SECRET_KEY_NAME = new RegExp(`^${SECRET_NAME}$`, 'i');

/**
 * A JSON-ready value with {@link redact} applied to every string in it (plain objects and arrays are
 * copied, values with `toJSON` replaced by their JSON form), and the value of every key named like
 * a secret (`password`, `apiKey`, `token`…) replaced whole, as the per-run log files store fields.
 */
export function redactValue(value: unknown): unknown {
  return redactDeep(value, 0, true);
}

/**
 * A log attribute with {@link redact} applied to every string in it: plain objects and arrays are
 * copied, values with `toJSON` (URL, Date) are replaced by their JSON form, Errors are left to
 * `formatError`, other values are kept.
 */
function redactDeep(value: unknown, depth = 0, byKey = false): unknown {
  if (typeof value === 'string') return redact(value);
  if (typeof value !== 'object' || value === null || value instanceof Error || depth >= MAX_REDACT_DEPTH)
    return value;
  if (Array.isArray(value)) return value.map((item) => redactDeep(item, depth + 1, byKey));
  const prototype = Object.getPrototypeOf(value);
  if (prototype === Object.prototype || prototype === null) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [
        key,
        byKey && SECRET_KEY_NAME.test(key) && item !== null && typeof item !== 'object'
          ? REDACTED
          : redactDeep(item, depth + 1, byKey),
      ]),
    );
  }
  const toJson = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJson !== 'function') return value;
  try {
    return redactDeep(toJson.call(value), depth + 1, byKey);
  } catch {
    return value;
  }
}

/** Renders one attribute value of a readable line: bare when it is a plain word, JSON otherwise. */
function renderValue(value: unknown): string {
  if (value instanceof Error) return JSON.stringify(errorMessage(value));
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'InvalidDate' : value.toISOString();
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'bigint') return value.toString();
  if (value === undefined) return 'undefined';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** A log item that is printed as a readable line instead of JSON. */
class TextLogItem extends LogItem {
  readonly line: string;
  readonly toStderr: boolean;
  constructor(line: string, toStderr: boolean) {
    super({ attributes: {} });
    this.line = line;
    this.toStderr = toStderr;
  }
}

const STDERR_LEVELS = new Set(['WARN', 'ERROR', 'CRITICAL']);

/**
 * Formats log items as Powertools JSON (`json: true`) or as readable lines
 * (`2026-11-26T11:00:00.000Z INFO  message key=value …`). One instance is shared by {@link logger}
 * and its children, so {@link configureTelemetry} switches all of them at once.
 */
export class PikoLogFormatter extends LogFormatter {
  /** JSON lines when true, readable lines when false. @default true in Lambda, false elsewhere */
  json: boolean;

  constructor(json: boolean) {
    super();
    this.json = json;
  }

  /** Builds the log item: the Powertools structure in JSON mode, one line in text mode. */
  formatAttributes(attributes: UnformattedAttributes, additional: LogAttributes): LogItem {
    if (!this.json) {
      const pairs = Object.entries(additional)
        .filter(([, value]) => value !== undefined)
        .map(([key, value]) => `${key}=${redact(renderValue(value))}`);
      const level = attributes.logLevel.toUpperCase();
      const message = redact(attributes.message);
      const line = [attributes.timestamp.toISOString(), level.padEnd(5), message, ...pairs].join(' ');
      return new TextLogItem(line, STDERR_LEVELS.has(level));
    }
    const context = attributes.lambdaContext;
    return new LogItem({
      attributes: {
        level: attributes.logLevel,
        message: redact(attributes.message),
        timestamp: attributes.timestamp.toISOString(),
        service: attributes.serviceName,
        cold_start: context?.coldStart,
        function_arn: context?.invokedFunctionArn,
        function_memory_size: context?.memoryLimitInMB,
        function_name: context?.functionName,
        function_request_id: context?.awsRequestId,
        sampling_rate: attributes.sampleRateValue,
        xray_trace_id: attributes.xRayTraceId,
      },
    }).addAttributes(redactDeep(additional) as LogAttributes);
  }

  /** Formats an error as Powertools does, with secrets removed from every field (message, stack, cause, …). */
  override formatError(error: Error): LogAttributes {
    return redactDeep(super.formatError(error)) as LogAttributes;
  }
}

/** A Powertools Logger that prints {@link PikoLogFormatter}'s readable lines as they are. */
class PikoLogger extends Logger {
  protected override createLogger(options?: ConstructorOptions): Logger {
    return new PikoLogger(options);
  }

  protected override printLog(logLevel: number, log: LogItem): void {
    if (log instanceof TextLogItem) {
      (log.toStderr || logsToStderr ? process.stderr : process.stdout).write(`${log.line}\n`);
      return;
    }
    if (logsToStderr) {
      process.stderr.write(`${JSON.stringify(log.getAttributes(), this.getJsonReplacer())}\n`);
      return;
    }
    super.printLog(logLevel, log);
  }
}

/** Every log line goes to standard error ({@link configureTelemetry}'s `toStderr`). */
let logsToStderr = false;

const formatter = new PikoLogFormatter(Boolean(process.env.AWS_LAMBDA_FUNCTION_NAME));

/** The process's logger (Powertools, `serviceName: 'piko'`). Configure with {@link configureTelemetry}. */
export const logger: Logger = new PikoLogger({ serviceName: 'piko', logFormatter: formatter });

/** The CloudWatch namespace of Piko's metrics. */
export const METRICS_NAMESPACE = 'Piko';
/** Powertools' `service` dimension on every metric. */
export const METRICS_SERVICE = 'piko';
/**
 * The dimension on every metric that names the stack (`aws.stack_name`, `PIKO_AWS__STACK_NAME`), so
 * two stacks in one account keep their figures and alarms apart.
 */
export const METRICS_STACK_DIMENSION = 'stack';

/**
 * The process's metrics (Powertools EMF, namespace `Piko`, dimensions `service=piko` and
 * `stack=<stack name>`).
 */
export const metrics: Metrics = createMetrics();

/**
 * Creates Piko's metrics, their `stack` dimension `stackName`. Metrics are off outside Lambda and ECS
 * unless `POWERTOOLS_METRICS_DISABLED` says otherwise.
 * @param stackName @default `PIKO_AWS__STACK_NAME` (the stack sets it on every function and task), else `Piko` as `aws.stack_name`
 */
export function createMetrics(stackName: string = process.env[ENV_STACK_NAME] || 'Piko'): Metrics {
  // CloudWatch reads EMF only from Lambda and ECS logs; elsewhere the lines would land in the CLI's
  // output (and in `--json` streams), so metrics stay off locally unless asked for.
  const onAws = process.env.AWS_LAMBDA_FUNCTION_NAME || process.env.ECS_CONTAINER_METADATA_URI_V4;
  if (!onAws && process.env.POWERTOOLS_METRICS_DISABLED === undefined) {
    process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  }
  return new Metrics({
    namespace: METRICS_NAMESPACE,
    serviceName: METRICS_SERVICE,
    defaultDimensions: { [METRICS_STACK_DIMENSION]: stackName },
  });
}

/** Applies the configuration (`piko.log_level`, `piko.log_json`) to {@link logger}. */
export function configureTelemetry(options: {
  /** Lowest level printed. */
  readonly logLevel: PikoLogLevel;
  /** JSON lines when true, readable lines when false. */
  readonly json: boolean;
  /**
   * Every line on standard error, whatever its level: a CLI command's standard output is its own
   * (its `--json` events, its listing), where on AWS standard output is the log. @default false
   */
  readonly toStderr?: boolean;
}): void {
  logger.setLogLevel(options.logLevel.toUpperCase() as Uppercase<PikoLogLevel>);
  formatter.json = options.json;
  logsToStderr = options.toStderr ?? false;
}

/** Metric: intervals given a `pending` run by the planner (Count). */
export const IntervalsPlanned = 'IntervalsPlanned';
/** Metric: intervals passed over by the catch-up rules, never run (Count). */
export const IntervalsSkipped = 'IntervalsSkipped';
/**
 * Metric: intervals of a job with a `deadline` that had not succeeded by `end + deadline` (Count),
 * each counted once, with the job as a dimension ({@link addJobMetric}); the job's alarm watches it.
 */
export const IntervalsLate = 'IntervalsLate';
/** Metric: runs that succeeded (Count). */
export const RunsSucceeded = 'RunsSucceeded';
/** Metric: runs recorded as failed after their retries (Count). */
export const RunsFailed = 'RunsFailed';
/** Metric: how long a run's handler took (Milliseconds). */
export const RunDuration = 'RunDuration';
/** Metric: how long after its interval ended a run started (Milliseconds). */
export const Lag = 'Lag';
/** The name of a Piko metric. */
export type MetricName =
  | typeof IntervalsPlanned
  | typeof IntervalsSkipped
  | typeof IntervalsLate
  | typeof RunsSucceeded
  | typeof RunsFailed
  | typeof RunDuration
  | typeof Lag;

/** The dimension that names the job on per-job metrics (`IntervalsLate`, and `IntervalsSkipped` per job). */
export const METRICS_JOB_DIMENSION = 'job';

/**
 * Publishes one count of a job's metric at once, with the job as a dimension besides `service` and
 * `stack` (a single-metric EMF line of its own, so the process's other metrics keep their dimensions).
 * @param source the metrics whose namespace and default dimensions it takes. @default metrics
 */
export function addJobMetric(
  name: MetricName,
  jobId: string,
  count: number,
  source: Metrics = metrics,
): void {
  const single = source.singleMetric();
  single.addDimension(METRICS_JOB_DIMENSION, jobId);
  single.addMetric(name, 'Count', count);
}
