/**
 * Fargate stages locally: each runs {@link FARGATE_CHILD_ENTRY} in a child process with the task's
 * environment, as ECS runs the container, and fails as a `runTask.sync` task does.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The child's entry: one stage, run as the container image runs it, with the jobs of `piko.jobs_dir`. */
export const FARGATE_CHILD_ENTRY = fileURLToPath(new URL('./fargate-child.ts', import.meta.url));
/** tsx resolved from here, so a Fargate child starts whatever the working directory. */
const TSX_LOADER = import.meta.resolve('tsx');
/** How much of a child's stderr is kept for the error it fails with. */
const STDERR_TAIL_CHARS = 4000;

/** The Fargate stage child processes of one local runtime. */
export class FargateProcesses {
  readonly #children = new Set<ChildProcess>();

  /**
   * Runs one Fargate stage in a child process with `environment` on top of this process's.
   * @throws Error named `States.TaskFailed` (as a failed `runTask.sync` is on AWS, whatever the
   *   handler threw) with the child's last stderr line, when it exits other than with code 0.
   */
  run(environment: Readonly<Record<string, string>>, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', TSX_LOADER, FARGATE_CHILD_ENTRY], {
        cwd: path.resolve('.'),
        env: { ...process.env, ...environment },
        stdio: ['ignore', 'inherit', 'pipe'],
        signal,
      });
      this.#children.add(child);
      let stderr = '';
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr = (stderr + chunk.toString()).slice(-STDERR_TAIL_CHARS);
      });
      child.on('error', (error) => {
        this.#children.delete(child);
        reject(error);
      });
      child.on('exit', (code, signalName) => {
        this.#children.delete(child);
        if (code === 0) resolve();
        else {
          const error = new Error(
            `Fargate stage container exited with ${signalName ?? `code ${code}`}: ${lastLine(stderr)}`,
          );
          // As on AWS, a failed runTask.sync is States.TaskFailed whatever the handler threw.
          error.name = 'States.TaskFailed';
          reject(error);
        }
      });
    });
  }

  /** Asks every running child to stop (SIGTERM), as ECS stops a task. */
  stopAll(): void {
    for (const child of this.#children) child.kill('SIGTERM');
  }
}

/** The container's own last error line (Node appends its version after an uncaught error). */
function lastLine(text: string): string {
  const lines = text
    .trim()
    .split('\n')
    .filter((line) => line.trim() !== '' && !/^Node\.js v\d/.test(line));
  return lines[lines.length - 1] ?? '';
}
