/**
 * The synthesized stack with its Step Functions half: the artifact stack (`artifact-stack.ts`: TLS
 * MariaDB, IAM proxy, Lambda sandboxes with the template's environment) whose Step Functions
 * endpoint is the local one (`sfn-endpoint.ts`) running the template's own state machines, their
 * Task states bound to the bundled functions (one warm sandbox per function) and to the container
 * artifact. Every AWS call (the sandboxes', the state machines' roles', the task role's database
 * logins) lands in one {@link AwsIdentities} for the IAM simulation.
 */
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type ArtifactStack, startArtifactStack } from './artifact-stack.ts';
import { type CfnResolver, TEST_REGION } from './cfn-resolver.ts';
import { runContainer } from './container-task.ts';
import { lambdaNodeBinary } from './lambda-node.ts';
import type { LambdaSandbox } from './lambda-sandbox.ts';
import { artifactRunDir, oncePerRun } from './run.ts';
import { type SfnEndpoint, startSfnEndpoint } from './sfn-endpoint.ts';
import { stateMachineNamed, type TemplateStateMachine, templateStateMachines } from './state-machines.ts';
import { readSynthesizedApp, STACK_NAME, type SynthesizedApp } from './synth.ts';
import { FIXTURE_SYNTH_STEP, synthesizeFixture } from './synth-process.ts';
import { type EcsTaskRequest, TaskBindings, type TaskStart } from './task-bindings.ts';

export { FIXTURE_BACKFILL_BATCHES_PER_EXECUTION } from './synth-process.ts';

/**
 * The fixture app (`test/artifacts/fixtures/jobs`), synthesized with bundling once per run (see
 * {@link synthesizeFixture}).
 */
export async function fixtureApp(): Promise<SynthesizedApp> {
  const runDir = artifactRunDir();
  const { outdir } = await oncePerRun(FIXTURE_SYNTH_STEP, () => synthesizeFixture(runDir));
  return readSynthesizedApp(outdir, STACK_NAME);
}

/**
 * The resolver, with `?ssl=true` on DSNs that name the proxy. Why: with IAM auth and no `ssl` in the
 * DSN, the store pins mysql2's 'Amazon RDS' CA profile, whose RDS Proxy roots (Amazon Root CA 1–4)
 * verify the real proxy's ACM certificate; no local stand-in can chain to them. `ssl=true` still
 * verifies the certificate and host name, against Node's CAs plus the test CA (`NODE_EXTRA_CA_CERTS`).
 */
function verifiedWithTestCa(resolver: CfnResolver, proxyHost: string): CfnResolver {
  const dsn = new RegExp(`^mysql://[^@/]+@${proxyHost.replace(/\./g, '\\.')}:\\d+/[^?]+$`);
  const withSsl = (value: unknown) =>
    typeof value === 'string' && dsn.test(value) ? `${value}?ssl=true` : value;
  return {
    ...resolver,
    resolve: (value) => {
      const resolved = resolver.resolve(value);
      if (Array.isArray(resolved))
        return resolved.map((item) => (isNameValue(item) ? { ...item, Value: withSsl(item.Value) } : item));
      return withSsl(resolved);
    },
    resolveString: (value) => withSsl(resolver.resolveString(value)) as string,
  };
}

function isNameValue(value: unknown): value is { Name: string; Value: unknown } {
  return typeof value === 'object' && value !== null && 'Name' in value && 'Value' in value;
}

/** Options of {@link startWorkflowStack}. */
export interface WorkflowStackOptions {
  /** @default the real app */
  readonly app?: () => Promise<SynthesizedApp>;
  /** Called before each Task state runs (to inject a fault). @default nothing */
  readonly beforeTask?: (task: TaskStart) => Promise<void> | void;
}

/** The stack, its state machines and what they ran. */
export interface WorkflowStack {
  readonly stack: ArtifactStack<SfnEndpoint>;
  readonly sfn: SfnEndpoint;
  readonly bindings: TaskBindings;
  /** The template's state machines, by ARN. */
  readonly machines: ReadonlyMap<string, TemplateStateMachine>;
  /** The state machine named `name` (`Piko-store_totals`, `Piko--backfill`). */
  machine(name: string): TemplateStateMachine;
  /** The warm sandbox of the function under `<stack>/<prefix>` (the one the Task states use). */
  sandbox(prefix: string): Promise<LambdaSandbox>;
  /** Resolves once nothing runs: no execution, no asynchronous invocation (see `TaskBindings.settled`). */
  settled(maxExecutions?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Stands the stack up with its Step Functions half. */
export async function startWorkflowStack(options: WorkflowStackOptions = {}): Promise<WorkflowStack> {
  let bindings: TaskBindings | undefined;
  let machines = new Map<string, TemplateStateMachine>();
  const sandboxes = new Map<string, Promise<LambdaSandbox>>();
  let stackRef: ArtifactStack<SfnEndpoint> | undefined;

  const sandboxOf = (logicalId: string): Promise<LambdaSandbox> => {
    const stack = stackRef;
    if (!stack) throw new Error('the stack is not up yet');
    let sandbox = sandboxes.get(logicalId);
    if (!sandbox) {
      const fn = stack.app.functions.find((candidate) => candidate.logicalId === logicalId);
      if (!fn) throw new Error(`no Lambda function ${logicalId} in the template`);
      // `<stack>/<path…>/Resource`: openFunction matches the construct path by prefix.
      const prefix = fn.constructPath.split('/').slice(1, -1).join('/');
      sandbox = stack.openFunction(prefix);
      sandboxes.set(logicalId, sandbox);
    }
    return sandbox;
  };

  const stack = await startArtifactStack<SfnEndpoint>({
    app: options.app ? await options.app() : undefined,
    resolver: (app, standIns) => verifiedWithTestCa(app.resolver(standIns), standIns.proxyEndpoint),
    sfnEndpoint: async ({ app, resolver, identities }) => {
      machines = templateStateMachines(app.template, resolver);
      bindings = new TaskBindings({
        template: app.template,
        tokens: resolver,
        identities,
        invokeFunction: async (logicalId, event) => (await sandboxOf(logicalId)).invoke(event),
        runEcsTask: (request) => runEcsTask(request),
        beforeTask: options.beforeTask,
      });
      const endpoint = await startSfnEndpoint({ machines, bindings: bindings.bindings, identities });
      bindings.attach(endpoint);
      return endpoint;
    },
  });
  stackRef = stack;

  /** The container artifact of a task definition, run as ECS would run it. */
  async function runEcsTask(request: EcsTaskRequest) {
    const { app, resolver, identities, ca } = stack;
    const properties = app.template.Resources[request.taskDefinitionLogicalId]?.Properties ?? {};
    const containers = (properties.ContainerDefinitions ?? []) as { Name?: string; Image?: unknown }[];
    const container = containers.find((definition) => definition.Name === request.containerName);
    const image = resolver.resolveString(container?.Image);
    const tag = image.slice(image.lastIndexOf(':') + 1);
    const assets = JSON.parse(
      readFileSync(path.join(app.outdir, `${app.stackName}.assets.json`), 'utf8'),
    ) as {
      dockerImages?: Record<string, { source: { directory: string; dockerFile?: string } }>;
    };
    const source = assets.dockerImages?.[tag]?.source;
    if (!source) throw new Error(`the image ${image} is not an image asset of ${app.stackName}.assets.json`);
    const taskRole = properties.TaskRoleArn as { 'Fn::GetAtt'?: [string, string] } | undefined;
    const roleLogicalId = taskRole?.['Fn::GetAtt']?.[0];
    if (!roleLogicalId)
      throw new Error(`task definition ${request.taskDefinitionLogicalId} has no task role`);
    const principal = identities.principal(
      `task ${resolver.resolveString(properties.Family)}`,
      roleLogicalId,
      resolver.getAtt(roleLogicalId, 'Arn'),
    );
    // The task's /tmp is its own: the test CA goes where the image's files are.
    const workRoot = '/var/tmp/piko-artifact-tasks';
    mkdirSync(workRoot, { recursive: true });
    const caFile = path.join(workRoot, `test-ca-${process.pid}.pem`);
    copyFileSync(ca.certFile, caFile);
    return runContainer({
      contextDir: path.join(app.outdir, source.directory),
      dockerfile: source.dockerFile,
      environment: {
        AWS_REGION: TEST_REGION,
        AWS_DEFAULT_REGION: TEST_REGION,
        AWS_EXECUTION_ENV: 'AWS_ECS_FARGATE',
        AWS_ACCESS_KEY_ID: principal.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: principal.credentials.secretAccessKey,
        AWS_SESSION_TOKEN: principal.credentials.sessionToken,
        NODE_EXTRA_CA_CERTS: caFile,
        AWS_ENDPOINT_URL_S3: stack.s3.url,
        ...request.environment,
      },
      bindMounts: request.bindMounts,
      nodeBinary: (major) => {
        if (major === 24) return lambdaNode;
        if (Number(process.versions.node.split('.')[0]) === major) return process.execPath;
        throw new Error(`no Node.js ${major} here for the container (FROM node:${major})`);
      },
      workRoot,
      timeoutMs: request.timeoutMs,
      user: request.user,
      hosts: stack.hosts,
    });
  }
  const lambdaNode = await lambdaNodeBinary();

  if (!bindings) throw new Error('the Step Functions endpoint was not started');
  const bound = bindings;
  return {
    stack,
    sfn: stack.sfn,
    bindings: bound,
    machines,
    machine: (name) => stateMachineNamed(machines, name),
    sandbox: (prefix) => sandboxOf(stack.lambda(prefix).logicalId),
    settled: (maxExecutions) => bound.settled(maxExecutions),
    stop: async () => {
      bound.close();
      await stack.stop();
    },
  };
}
