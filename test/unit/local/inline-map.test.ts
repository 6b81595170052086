import { beforeAll, describe, expect, it } from 'vitest';
import type { WorkflowJob } from '../../../infra/constructs/job-workflow.ts';
import { runWorkflow, type WorkflowBindings } from '../../../shared/local/workflow/executor.ts';
import {
  aslWithInlineMaps,
  DISTRIBUTED_ONLY_FIELDS,
  toInlineMap,
} from '../../../shared/local/workflow/inline-map.ts';
import { renderJobWorkflow } from '../../../shared/local/workflow/render.ts';
import { executionInput, fargateJob, singleStageJob, sleep } from '../workflow/jobs.ts';

interface Definition {
  StartAt: string;
  States: Record<string, Record<string, unknown> & { ItemProcessor?: Record<string, unknown> }>;
}

const wideSingle: WorkflowJob = { ...singleStageJob, id: 'wide', concurrency: 5_000 };
const wideFargate: WorkflowJob = { ...fargateJob, id: 'wide_heavy', concurrency: 41 };

describe('toInlineMap (a Distributed Map run locally)', () => {
  /** Synthesized definitions: the distributed job, and the same job at 40 (the widest inline Map). */
  const synthesized: Record<string, { distributed: Definition; inline: Definition }> = {};
  beforeAll(async () => {
    for (const job of [wideSingle, wideFargate]) {
      synthesized[job.id] = {
        distributed: JSON.parse(await renderJobWorkflow(job)) as Definition,
        inline: JSON.parse(await renderJobWorkflow({ ...job, concurrency: 40 })) as Definition,
      };
    }
  });

  it('gives the inline definition, except that MaxConcurrency stays the job’s', () => {
    for (const [jobId, { distributed, inline }] of Object.entries(synthesized)) {
      const translated = toInlineMap(distributed);
      const concurrency = jobId === wideSingle.id ? 5_000 : 41;
      expect(distributed.States.Runs!.MaxConcurrency).toBe(concurrency);
      expect(translated).toEqual({
        ...inline,
        States: { ...inline.States, Runs: { ...inline.States.Runs, MaxConcurrency: concurrency } },
      });
    }
  });

  it('changes exactly the processor mode and the Map Run fields, nothing else', () => {
    const { distributed } = synthesized[wideSingle.id]!;
    const translated = toInlineMap(distributed);
    const { Runs: before, ...otherBefore } = distributed.States;
    const { Runs: after, ...otherAfter } = translated.States;
    expect(otherAfter).toEqual(otherBefore);
    const { ItemProcessor: processorBefore, ...mapBefore } = before!;
    const { ItemProcessor: processorAfter, ...mapAfter } = after!;
    expect(mapBefore.ToleratedFailurePercentage).toBe(100);
    const dropped = Object.keys(mapBefore).filter((field) => !(field in mapAfter));
    expect(dropped).toEqual(['ToleratedFailurePercentage']);
    expect(DISTRIBUTED_ONLY_FIELDS).toContain('ToleratedFailurePercentage');
    expect(mapAfter).toEqual(
      Object.fromEntries(Object.entries(mapBefore).filter(([f]) => f !== 'ToleratedFailurePercentage')),
    );
    expect(processorBefore!.ProcessorConfig).toEqual({ Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' });
    expect(processorAfter).toEqual({ ...processorBefore, ProcessorConfig: { Mode: 'INLINE' } });
  });

  it('leaves an inline definition as it is, and never mutates its argument', () => {
    const { inline, distributed } = synthesized[wideSingle.id]!;
    expect(toInlineMap(inline)).toEqual(inline);
    const copy = structuredClone(distributed);
    toInlineMap(distributed);
    expect(distributed).toEqual(copy);
    expect(JSON.parse(aslWithInlineMaps(JSON.stringify(distributed)))).toEqual(toInlineMap(distributed));
  });

  it('translates Distributed Maps nested in branches and item processors too', () => {
    const leaf = { Type: 'Pass', End: true };
    const distributedMap = {
      Type: 'Map',
      End: true,
      Label: 'inner',
      ToleratedFailureCount: 3,
      ItemProcessor: {
        ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'EXPRESS' },
        StartAt: 'Leaf',
        States: { Leaf: leaf },
      },
    };
    const inlineMap = {
      Type: 'Map',
      End: true,
      ItemProcessor: { ProcessorConfig: { Mode: 'INLINE' }, StartAt: 'Leaf', States: { Leaf: leaf } },
    };
    const definition = {
      StartAt: 'Both',
      States: {
        Both: {
          Type: 'Parallel',
          End: true,
          Branches: [
            { StartAt: 'Inner', States: { Inner: distributedMap } },
            {
              StartAt: 'Outer',
              States: {
                Outer: {
                  Type: 'Map',
                  End: true,
                  ItemProcessor: {
                    ProcessorConfig: { Mode: 'INLINE' },
                    StartAt: 'Inner',
                    States: { Inner: distributedMap },
                  },
                },
              },
            },
          ],
        },
      },
    };
    expect(toInlineMap(definition)).toEqual({
      StartAt: 'Both',
      States: {
        Both: {
          Type: 'Parallel',
          End: true,
          Branches: [
            { StartAt: 'Inner', States: { Inner: inlineMap } },
            {
              StartAt: 'Outer',
              States: {
                Outer: {
                  Type: 'Map',
                  End: true,
                  ItemProcessor: {
                    ProcessorConfig: { Mode: 'INLINE' },
                    StartAt: 'Inner',
                    States: { Inner: inlineMap },
                  },
                },
              },
            },
          ],
        },
      },
    });
  });

  it('refuses a Distributed Map that reads, batches or writes its items elsewhere', () => {
    const definition = {
      StartAt: 'Files',
      States: {
        Files: {
          Type: 'Map',
          End: true,
          ItemReader: { Resource: 'arn:aws:states:::s3:listObjectsV2', Parameters: { Bucket: 'b' } },
          ItemBatcher: { MaxItemsPerBatch: 10 },
          ItemProcessor: {
            ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' },
            StartAt: 'P',
            States: { P: { Type: 'Pass', End: true } },
          },
        },
      },
    };
    expect(() => toInlineMap(definition)).toThrow(
      'Distributed Map state "Files" has ItemReader, ItemBatcher: an inline Map cannot run it locally; give the items in the state input (ItemsPath) and keep the results in the state',
    );
  });

  it('runs the synthesized distributed definition locally with more than 40 runs at once', async () => {
    // Arrange: 300 runs whose stage waits until 100 of them are in flight at once.
    const asl = await renderJobWorkflow({ ...wideSingle, concurrency: 100 });
    const input = executionInput(wideSingle, 300);
    let inFlight = 0;
    let peak = 0;
    const succeeded: number[] = [];
    const bindings: WorkflowBindings = {
      async invokeStage(payload) {
        if (payload.action !== 'run') throw new Error(`unexpected ${payload.action}`);
        inFlight++;
        peak = Math.max(peak, inFlight);
        for (let turn = 0; turn < 200 && inFlight < 100 && peak < 100; turn++) await sleep(1);
        inFlight--;
        succeeded.push(payload.run.runId);
        return { output: null };
      },
      async runFargateTask() {
        throw new Error('no Fargate stage');
      },
      async continueDispatch() {},
    };

    // Act
    const output = await runWorkflow(asl, input, bindings);

    // Assert: every run once, MaxConcurrency (100, above an inline Map's 40) reached and kept.
    expect(output).toEqual({
      jobId: wideSingle.id,
      executionName: input.executionName,
      lane: 'scheduled',
      runs: 300,
      wakes: 0,
      continued: null,
    });
    expect(succeeded.sort((a, b) => a - b)).toEqual(input.runs.map((run) => run.runId));
    expect(peak).toBe(100);
  });
});
