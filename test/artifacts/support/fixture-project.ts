/**
 * A second project for the artifact tier: this repository's `infra/`, `functions/` entry points and
 * `shared/`, with `functions/jobs` replaced by a fixture job list, so `infra/app.ts` synthesizes (and
 * bundles) an app whose jobs fail, retry and time out on purpose. The bundles import the job list
 * statically, so the list must be where the entry points look for it: the project links it there.
 *
 * `infra/` is copied, not linked: its `PROJECT_ROOT` (where the entries and the container context
 * are) is the folder it is in. `shared/` and `node_modules` are links to the repository's own.
 */
import { execFile } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** The repository this file is in. */
export const REPOSITORY_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Options of {@link createFixtureProject}. */
export interface FixtureProjectOptions {
  /** The folder to create the project in (empty or absent). */
  readonly root: string;
  /** The fixture jobs folder (its `index.ts` exports `jobs`). */
  readonly jobsDir: string;
  /**
   * Source edits of the copied `infra/`, each `[file under infra/, text, replacement]`; a text that is
   * not found fails at once (the edit would silently do nothing).
   * @default []
   */
  readonly infraEdits?: readonly (readonly [string, string | RegExp, string])[];
}

/** Creates the project; returns its root. */
export function createFixtureProject(options: FixtureProjectOptions): string {
  const { root } = options;
  mkdirSync(root, { recursive: true });
  cpSync(path.join(REPOSITORY_ROOT, 'infra'), path.join(root, 'infra'), { recursive: true });
  mkdirSync(path.join(root, 'functions'), { recursive: true });
  for (const entry of readdirSync(path.join(REPOSITORY_ROOT, 'functions'), { withFileTypes: true })) {
    if (entry.name === 'jobs') continue;
    cpSync(path.join(REPOSITORY_ROOT, 'functions', entry.name), path.join(root, 'functions', entry.name), {
      recursive: true,
    });
  }
  symlinkSync(options.jobsDir, path.join(root, 'functions', 'jobs'), 'dir');
  for (const linked of ['shared', 'node_modules']) {
    symlinkSync(path.join(REPOSITORY_ROOT, linked), path.join(root, linked), 'dir');
  }
  for (const file of ['package.json', 'package-lock.json', 'tsconfig.json', 'cdk.json']) {
    if (existsSync(path.join(REPOSITORY_ROOT, file)))
      cpSync(path.join(REPOSITORY_ROOT, file), path.join(root, file));
  }
  for (const [file, text, replacement] of options.infraEdits ?? []) {
    const target = path.join(root, 'infra', file);
    const source = readFileSync(target, 'utf8');
    const edited = source.replace(text, replacement);
    if (edited === source)
      throw new Error(`fixture project: infra/${file} has no ${String(text)} to replace`);
    writeFileSync(target, edited);
  }
  return root;
}

/**
 * Synthesizes `infra/app.ts` of a project into `outDir` (bundling on), as `npx cdk synth` would run it.
 * @throws Error with the synth's output when it fails.
 */
export async function synthProject(
  root: string,
  outDir: string,
  context: Record<string, unknown> = {},
  signal?: AbortSignal,
): Promise<void> {
  const tsx = path.join(REPOSITORY_ROOT, 'node_modules', '.bin', 'tsx');
  try {
    await promisify(execFile)(tsx, ['infra/app.ts'], {
      cwd: root,
      env: { ...process.env, CDK_OUTDIR: outDir, CDK_CONTEXT_JSON: JSON.stringify(context) },
      maxBuffer: 64 * 1024 * 1024,
      timeout: 180_000,
      signal,
    });
  } catch (error) {
    const failure = error as Error & { stdout?: string; stderr?: string };
    throw new Error(
      `synth of ${root} failed: ${failure.message}\n${failure.stdout ?? ''}\n${failure.stderr ?? ''}`,
    );
  }
}
