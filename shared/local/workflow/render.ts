import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { FargateTaskDefinition } from 'aws-cdk-lib/aws-ecs';
import type { CfnStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import type { JobWorkflowProps, WorkflowJob } from '../../../infra/constructs/job-workflow.ts';
import { definitionToAsl, placeholderArn } from '../../workflow/asl-tokens.ts';

/**
 * Bump when anything that shapes the rendered ASL changes outside the construct, token and payload
 * files (which are hashed by content): this file's stand-in resources, for example.
 */
export const WORKFLOW_RENDER_VERSION = 1;
/** The stage function's ARN in rendered ASL: what `definitionToAsl` gives the first Lambda function. */
export const RENDER_STAGE_FUNCTION_ARN = placeholderArn('AWS::Lambda::Function', 1);
/** The dispatcher's ARN in rendered ASL: the second Lambda function of the definition. */
export const RENDER_DISPATCHER_FUNCTION_ARN = placeholderArn('AWS::Lambda::Function', 2);
/** The container that runs a Fargate stage, in every stand-in task definition. */
export const RENDER_CONTAINER_NAME = 'stage';
/** The image of the stand-in task definitions (never pulled: rendering builds no asset). */
export const RENDER_STAGE_IMAGE = 'piko-stage';

const CONSTRUCT_FILE = new URL('../../../infra/constructs/job-workflow.ts', import.meta.url);
const TOKENS_FILE = new URL('../../workflow/asl-tokens.ts', import.meta.url);
const STAGE_EVENT_FILE = new URL('../../workflow/stage-event.ts', import.meta.url);
/** Decides inline or Distributed Map by concurrency: shapes the definition too. */
const MAP_MODE_FILE = new URL('../../workflow/map-mode.ts', import.meta.url);

export interface RenderOptions {
  /**
   * Caches the ASL under `<dataDir>/workflows/<jobId>-<hash>.asl.json`, so a warm start does not load
   * aws-cdk-lib at all. @default no cache
   */
  readonly dataDir?: string;
}

/**
 * The job's workflow definition as runnable ASL text: the {@link JobWorkflow} construct built in a bare
 * stack (imported functions, stand-in Fargate task definitions, no asset, no synth), resolved, with
 * every resource reference replaced by its `definitionToAsl` placeholder. The same text as
 * `definitionToAsl` of a deployed stack's `DefinitionString`.
 */
export async function renderJobWorkflow(job: WorkflowJob, options: RenderOptions = {}): Promise<string> {
  if (options.dataDir === undefined) return synthesizeAsl(job);
  const directory = path.join(options.dataDir, 'workflows');
  const fileName = `${job.id}-${await workflowHash(job)}.asl.json`;
  const file = path.join(directory, fileName);
  const cached = await readFile(file, 'utf8').catch(() => undefined);
  if (cached !== undefined && isJson(cached)) return cached;

  const asl = await synthesizeAsl(job);
  await storeAsl(directory, fileName, asl, job.id).catch(() => {
    // The cache is an optimisation: a read-only data directory only costs a render per start.
  });
  return asl;
}

/** A short hash of everything that shapes a job's definition. */
export async function workflowHash(job: WorkflowJob): Promise<string> {
  const { construct, tokens, payload, mapMode, cdkVersion } = await sources();
  const { attempts, backoffMs, rate, maxBackoffMs } = job.retry;
  const shape = {
    version: WORKFLOW_RENDER_VERSION,
    cdkVersion,
    job: {
      id: job.id,
      concurrency: job.concurrency,
      retry: { attempts, backoffMs, rate, maxBackoffMs },
      timeoutMs: job.timeoutMs,
      stages: job.stages.map((stage) =>
        stage.kind === 'fargate'
          ? { kind: stage.kind, name: stage.name, cpu: stage.cpu, memoryMiB: stage.memoryMiB }
          : { kind: stage.kind, name: stage.name },
      ),
    },
  };
  return createHash('sha256')
    .update(JSON.stringify(shape))
    .update('\0')
    .update(construct)
    .update('\0')
    .update(tokens)
    .update('\0')
    .update(payload)
    .update('\0')
    .update(mapMode)
    .digest('hex')
    .slice(0, 16);
}

async function synthesizeAsl(job: WorkflowJob): Promise<string> {
  const { cdk, lambda, ecs, construct } = await loadCdk();
  const { JobWorkflow, stageTaskFamily } = construct;
  const app = new cdk.App({ autoSynth: false });
  const stack = new cdk.Stack(app, 'PikoWorkflow');
  const stageFunction = lambda.Function.fromFunctionArn(stack, 'StageFunction', RENDER_STAGE_FUNCTION_ARN);
  const dispatcherFunction = lambda.Function.fromFunctionArn(
    stack,
    'DispatcherFunction',
    RENDER_DISPATCHER_FUNCTION_ARN,
  );
  const fargateStages = job.stages.filter((stage) => stage.kind === 'fargate');
  let fargate: JobWorkflowProps['fargate'];
  if (fargateStages.length > 0) {
    const cluster = new ecs.Cluster(stack, 'Cluster');
    const taskDefinitions: Record<string, FargateTaskDefinition> = {};
    for (const stage of fargateStages) {
      const taskDefinition = new ecs.FargateTaskDefinition(stack, `Task ${stage.name}`, {
        family: stageTaskFamily(job.id, stage.name),
        cpu: stage.cpu,
        memoryLimitMiB: stage.memoryMiB,
      });
      taskDefinition.addContainer(RENDER_CONTAINER_NAME, {
        image: ecs.ContainerImage.fromRegistry(RENDER_STAGE_IMAGE),
      });
      taskDefinitions[stage.name] = taskDefinition;
    }
    fargate = { cluster, taskDefinitions, containerName: RENDER_CONTAINER_NAME };
  }
  const workflow = new JobWorkflow(stack, 'Workflow', { job, stageFunction, dispatcherFunction, fargate });

  const types = new Map<string, string>();
  for (const construct of stack.node.findAll()) {
    if (construct instanceof cdk.CfnResource)
      types.set(stack.getLogicalId(construct), construct.cfnResourceType);
  }
  const cfn = workflow.stateMachine.node.defaultChild as CfnStateMachine;
  const resolved: unknown = stack.resolve(cfn.definitionString);
  return definitionToAsl(resolved, (logicalId) => {
    const type = types.get(logicalId);
    if (type === undefined) throw new Error(`renderJobWorkflow: unknown logical id "${logicalId}"`);
    return type;
  });
}

interface CdkModules {
  readonly cdk: typeof import('aws-cdk-lib');
  readonly lambda: typeof import('aws-cdk-lib/aws-lambda');
  readonly ecs: typeof import('aws-cdk-lib/aws-ecs');
  readonly construct: typeof import('../../../infra/constructs/job-workflow.ts');
}

/**
 * Loads aws-cdk-lib and the construct through `require` (tsx's CommonJS API). An ESM `import()` of
 * aws-cdk-lib builds namespaces over its lazily loaded CommonJS exports and so loads far more of it:
 * a cold render took 0.85–1.4 s that way, 0.4–0.45 s this way. Falls back to `import()` without tsx.
 */
async function loadCdk(): Promise<CdkModules> {
  const constructFile = '../../../infra/constructs/job-workflow.ts';
  try {
    const { require: tsxRequire } = await import('tsx/cjs/api');
    const load = (id: string): unknown => tsxRequire(id, import.meta.url);
    return {
      cdk: load('aws-cdk-lib') as CdkModules['cdk'],
      lambda: load('aws-cdk-lib/aws-lambda') as CdkModules['lambda'],
      ecs: load('aws-cdk-lib/aws-ecs') as CdkModules['ecs'],
      construct: load(constructFile) as CdkModules['construct'],
    };
  } catch {
    const [cdk, lambda, ecs, construct] = await Promise.all([
      import('aws-cdk-lib'),
      import('aws-cdk-lib/aws-lambda'),
      import('aws-cdk-lib/aws-ecs'),
      import('../../../infra/constructs/job-workflow.ts'),
    ]);
    return { cdk, lambda, ecs, construct };
  }
}

async function storeAsl(directory: string, fileName: string, asl: string, jobId: string): Promise<void> {
  await mkdir(directory, { recursive: true });
  const temporary = path.join(directory, `.${fileName}.${process.pid}.tmp`);
  await writeFile(temporary, asl);
  await rename(temporary, path.join(directory, fileName));
  // Older renders of the same job are stale now.
  const stale = new RegExp(`^${jobId.replace(/[-]/g, '\\-')}-[0-9a-f]{16}\\.asl\\.json$`);
  for (const entry of await readdir(directory)) {
    if (entry !== fileName && stale.test(entry)) await rm(path.join(directory, entry), { force: true });
  }
}

interface Sources {
  readonly construct: string;
  readonly tokens: string;
  readonly payload: string;
  readonly mapMode: string;
  readonly cdkVersion: string;
}
let sourcesRead: Promise<Sources> | undefined;
/** The files that shape every definition, and aws-cdk-lib's version (read once: the library is not loaded). */
function sources(): Promise<Sources> {
  sourcesRead ??= (async () => {
    const read = (file: URL | string) => readFile(file, 'utf8').catch(() => '');
    let cdkPackage = '';
    try {
      cdkPackage = await read(createRequire(import.meta.url).resolve('aws-cdk-lib/package.json'));
    } catch {
      // not installed: the render will say so
    }
    const [construct, tokens, payload, mapMode] = await Promise.all([
      read(CONSTRUCT_FILE),
      read(TOKENS_FILE),
      read(STAGE_EVENT_FILE),
      read(MAP_MODE_FILE),
    ]);
    const cdkVersion = cdkPackage ? ((JSON.parse(cdkPackage) as { version?: string }).version ?? '') : '';
    return { construct, tokens, payload, mapMode, cdkVersion };
  })();
  return sourcesRead;
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
