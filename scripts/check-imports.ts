/**
 * The import check of `npm run lint` (`node --import tsx scripts/check-imports.ts`): fails, listing
 * every problem at once, on an import cycle among the files of shared/, infra/ and functions/, and on
 * an entry the stack bundles to run on AWS (the Lambda handlers and the stage image's entry) reaching
 * aws-cdk-lib, infra/ or better-sqlite3. The entries are bundled with the stack's own options
 * (infra/bundling.ts, translated for esbuild as the stage image is), so the graph checked is the one
 * that ships.
 */
import { LAMBDA_BUNDLING, LAMBDA_ENTRIES, PROJECT_ROOT } from '../infra/bundling.ts';
import { esbuildOptionsFor, STAGE_IMAGE_ENTRY } from '../infra/container-image.ts';
import { checkImports, type ForbiddenImports, formatImportReport } from './import-graph.ts';

/** The folders searched for cycles. */
const SOURCE_DIRS = ['shared', 'infra', 'functions'];

/**
 * What runs on AWS never carries: the CDK (size, cold start), the CDK app, or SQLite, a native
 * module the bundles cannot load (on AWS state lives in MySQL).
 */
const FORBIDDEN: ForbiddenImports = {
  packages: ['aws-cdk-lib', 'better-sqlite3'],
  paths: ['infra/', 'shared/store/sqlite.ts'],
};

const report = await checkImports({
  root: PROJECT_ROOT,
  dirs: SOURCE_DIRS,
  entries: [...Object.values(LAMBDA_ENTRIES), STAGE_IMAGE_ENTRY],
  bundling: esbuildOptionsFor(LAMBDA_BUNDLING),
  forbidden: FORBIDDEN,
});
const problems = report.cycles.length + report.reaches.length;
(problems === 0 ? process.stdout : process.stderr).write(`${formatImportReport(report)}\n`);
process.exitCode = problems === 0 ? 0 : 1;
