/**
 * The order of a vitest run: vitest's own (files that failed last time first, then the longest), but
 * the artifact tier's files after all others. The global setup starts the tier's two synths in the
 * background when the run begins (`global-setup.ts`); with one test file at a time on this 2-core
 * machine, they then run on the idle core while the other files run, instead of holding up the first
 * artifact file.
 */
import path from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** vitest's sequencer with `test/artifacts/` moved to the end, in vitest's order among themselves. */
export class ArtifactsLastSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const isArtifact = (spec: TestSpecification) =>
      spec.moduleId.startsWith(path.join(spec.project.config.root, 'test', 'artifacts') + path.sep);
    return [...sorted.filter((spec) => !isArtifact(spec)), ...sorted.filter(isArtifact)];
  }
}
