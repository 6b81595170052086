import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, parse } from 'node:path';
import { SinkDefinitionError } from '../errors.ts';
import { asSentence, unknownOptionProblems } from '../options.ts';
import type { RecordType, Sink, SinkContext } from './types.ts';

/** Options of {@link jsonLinesSink}. */
export interface JsonLinesSinkOptions {
  /**
   * Where the records go, relative to `context.outputDir`. Each run writes its own file next to it,
   * the run id inserted before the extension: `sales.jsonl` → `sales.run-42.jsonl`.
   */
  readonly file: string;
}

/**
 * A sink that writes each run's records as JSON lines to a file of its own,
 * `<outputDir>/<stem>.run-<runId><ext>` (see {@link jsonLinesRunFile}).
 *
 * Idempotent per run: a run's id is the same for every attempt and re-run of its interval, and the
 * file is replaced as a whole (written aside, then renamed), so re-running a run replaces its lines
 * instead of appending duplicates, and readers never see half a file. All of a run's records of
 * this type arrive in one `write` (`batchSize` is unlimited), so a later write of the same run
 * replaces an earlier one. Read everything with `cat <stem>.run-*<ext>`.
 * @throws SinkDefinitionError when `file` is empty, absolute, or leaves the output directory, or an
 * option is unknown.
 */
export function jsonLinesSink<T>(recordType: RecordType<T>, options: JsonLinesSinkOptions): Sink<T> {
  const { file } = options;
  const problems = unknownOptionProblems(options, ['file']).map(asSentence);
  const normalized = typeof file === 'string' ? normalize(file) : '';
  if (
    typeof file !== 'string' ||
    file === '' ||
    isAbsolute(file) ||
    normalized === '..' ||
    normalized.startsWith('../')
  ) {
    problems.push(`file ${JSON.stringify(file)} must be a path relative to the output directory, inside it.`);
  }
  if (problems.length > 0)
    throw new SinkDefinitionError(`jsonLinesSink for record type "${recordType.name}"`, problems);
  return Object.freeze({
    recordType,
    batchSize: Number.POSITIVE_INFINITY,
    async write(records: readonly T[], context: SinkContext): Promise<void> {
      const target = join(context.outputDir, jsonLinesRunFile(file, context.runId));
      await mkdir(dirname(target), { recursive: true });
      const temporary = `${target}.${randomBytes(6).toString('hex')}.tmp`;
      try {
        await writeFile(temporary, records.map((r) => `${JSON.stringify(r)}\n`).join(''));
        await rename(temporary, target);
      } catch (err) {
        await rm(temporary, { force: true });
        throw err;
      }
    },
  });
}

/**
 * The file, relative to the output directory, that holds one run's records of a {@link jsonLinesSink}:
 * `sales.jsonl`, run 42 → `sales.run-42.jsonl` (`.jsonl` is added when `file` has no extension).
 */
export function jsonLinesRunFile(file: string, runId: number): string {
  const { dir, name, ext } = parse(normalize(file));
  return join(dir, `${name}.run-${runId}${ext || '.jsonl'}`);
}
