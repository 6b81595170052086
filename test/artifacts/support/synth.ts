/**
 * The real app (`infra/app.ts` with the jobs of `functions/jobs/`), synthesized with bundling into a
 * temporary `cdk.out` outside the repository, once per test run, and read back: the template, and
 * each Lambda function's asset folder, handler, role and environment as the template has them.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  type CfnResolver,
  type CfnResource,
  type CfnTemplate,
  createCfnResolver,
  type StandIns,
} from './cfn-resolver.ts';
import { artifactRunDir, oncePerRun } from './run.ts';
import { SYNTH_STEP, synthesize } from './synth-process.ts';

/** The stack `infra/app.ts` synthesizes (its `piko:stackName` context in `cdk.json`). */
export const STACK_NAME = 'Piko';

/** A Lambda function of the template, with its code in cdk.out. */
export interface LambdaArtifact {
  readonly logicalId: string;
  /** The construct path (`Piko/Dispatcher/Function/Function/Resource`). */
  readonly constructPath: string;
  /** The function's asset folder in cdk.out (read only: copy it, see `lambda-sandbox.ts`). */
  readonly assetDir: string;
  /** `index.handler`. */
  readonly handler: string;
  /** `nodejs24.x`. */
  readonly runtime: string;
  readonly timeoutSeconds: number;
  readonly memoryMiB: number;
  /** The logical id of its execution role. */
  readonly roleLogicalId: string;
  /** `Environment.Variables` as in the template, tokens and all. */
  readonly templateEnvironment: Readonly<Record<string, unknown>>;
}

/** The synthesized app, read from cdk.out. */
export interface SynthesizedApp {
  /** The cdk.out folder (outside the repository). */
  readonly outdir: string;
  readonly stackName: string;
  readonly template: CfnTemplate;
  readonly functions: readonly LambdaArtifact[];
  /**
   * The Lambda function under the construct path `<stack>/<prefix>` (`Dispatcher`,
   * `Migrations/Handler`, `JobFunctions/store_totals`). @throws when none or several match.
   */
  lambda(prefix: string): LambdaArtifact;
  /** Resources of one type, by logical id. */
  resourcesOfType(type: string): [string, CfnResource][];
  /** A resolver of this template's tokens to the given stand-ins. */
  resolver(standIns: Omit<StandIns, 'stackName'>): CfnResolver;
  /** A function's environment with its tokens resolved (see {@link CfnResolver}). */
  environmentOf(fn: LambdaArtifact, resolver: CfnResolver): Record<string, string>;
}

/** Synthesizes once per run (the first caller; the others wait) and reads the result. */
export async function synthesizedApp(): Promise<SynthesizedApp> {
  const runDir = artifactRunDir();
  const { outdir } = await oncePerRun(SYNTH_STEP, () => synthesize(runDir));
  return readSynthesizedApp(outdir, STACK_NAME);
}

/** Reads a synthesized stack from `outdir`. */
export function readSynthesizedApp(outdir: string, stackName: string): SynthesizedApp {
  const template = JSON.parse(
    readFileSync(path.join(outdir, `${stackName}.template.json`), 'utf8'),
  ) as CfnTemplate;
  const assets = JSON.parse(readFileSync(path.join(outdir, `${stackName}.assets.json`), 'utf8')) as {
    files: Record<string, { source: { path: string; packaging?: string } }>;
  };
  const functions: LambdaArtifact[] = [];
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const props = resource.Properties ?? {};
    const code = props.Code as { S3Key?: unknown } | undefined;
    const hash = typeof code?.S3Key === 'string' ? code.S3Key.replace(/\.zip$/, '') : undefined;
    const source = hash ? assets.files[hash]?.source : undefined;
    if (source?.packaging !== 'zip') {
      throw new Error(`Lambda function ${logicalId} has no zip asset in ${stackName}.assets.json`);
    }
    const role = props.Role as { 'Fn::GetAtt'?: [string, string] } | undefined;
    const roleLogicalId = role?.['Fn::GetAtt']?.[0];
    if (!roleLogicalId) throw new Error(`Lambda function ${logicalId} has no role of this stack`);
    functions.push({
      logicalId,
      constructPath: String(resource.Metadata?.['aws:cdk:path'] ?? ''),
      assetDir: path.join(outdir, source.path),
      handler: String(props.Handler),
      runtime: String(props.Runtime),
      timeoutSeconds: Number(props.Timeout ?? 3),
      memoryMiB: Number(props.MemorySize ?? 128),
      roleLogicalId,
      templateEnvironment:
        (props.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {},
    });
  }
  return {
    outdir,
    stackName,
    template,
    functions,
    lambda(prefix) {
      const wanted = `${stackName}/${prefix}/`;
      const matches = functions.filter((fn) => fn.constructPath.startsWith(wanted));
      if (matches.length !== 1) {
        throw new Error(
          `${matches.length} Lambda functions under ${wanted} (have: ${functions.map((fn) => fn.constructPath).join(', ')})`,
        );
      }
      return matches[0]!;
    },
    resourcesOfType(type) {
      return Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);
    },
    resolver(standIns) {
      return createCfnResolver(template, { ...standIns, stackName });
    },
    environmentOf(fn, resolver) {
      return Object.fromEntries(
        Object.entries(fn.templateEnvironment).map(([name, value]) => [name, resolver.resolveString(value)]),
      );
    },
  };
}
