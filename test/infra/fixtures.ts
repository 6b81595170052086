import { readFileSync } from 'node:fs';
import path from 'node:path';
import { App, CfnElement, type Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { defineJob, fargate, type JobDefinition, lambda, mysqlPool, objectStore } from '#piko';
import { ControlTowerChecks } from '../../infra/cfn-guard.ts';
import { PikoStack, type PikoStackProps } from '../../infra/piko-stack.ts';

const noop = async () => null;

/** High-frequency single-stage I/O: minutely, wide. */
export const fanout = defineJob({
  id: 'fanout',
  schedule: { cron: '* * * * *' },
  concurrency: 20,
  timeout: '30s',
  memoryMiB: 256,
  retry: { attempts: 3, backoff: '2s' },
  handler: noop,
});

/** Pooled database upserts, in a timezone with DST. */
export const upsert = defineJob({
  id: 'upsert',
  schedule: { cron: '*/5 * * * *', timezone: 'Europe/Paris' },
  concurrency: 4,
  timeout: '1m',
  resources: { db: mysqlPool({ max: 10 }) },
  handler: noop,
});

/** Three stages, the middle one on Fargate, with an object store; a timeout longer than Lambda allows. */
export const archive = defineJob({
  id: 'archive',
  schedule: { cron: '0 2 * * *', timezone: 'Asia/Shanghai' },
  concurrency: 2,
  timeout: '20m',
  memoryMiB: 1024,
  resources: { outputs: objectStore() },
  stages: [
    lambda('plan', noop),
    fargate('compress', { cpu: 2048, memoryMiB: 4096 }, noop),
    lambda('publish', noop),
  ],
});

/** Both day fields restricted: two schedules. */
export const payroll = defineJob({
  id: 'payroll',
  schedule: { cron: '0 6 1,15 * MON', timezone: 'America/New_York' },
  handler: noop,
});

export const fixtureJobs: readonly JobDefinition[] = [fanout, upsert, archive, payroll];

/** Which of `infra/app.ts`'s checks {@link buildPikoStack} runs besides cdk-nag. */
export interface StackChecks {
  /**
   * cfn-guard with the AWS Control Tower proactive controls (`infra/cfn-guard.ts`), in the synthesis
   * itself. Findings do not throw here as they fail `cdk synth`: the tests read them, and what was
   * acknowledged, from {@link validationReport}. About 3.5 s per stack, so only the tests of the
   * checks turn it on. @default false
   */
  readonly cfnGuard?: boolean;
}

/**
 * A Piko stack as `infra/app.ts` builds it, cdk-nag checks included (and cfn-guard when asked),
 * without bundling (FACTS.md: asset bundling dominates test time; `bench/dispatcher-cold.ts`
 * bundles for real).
 */
export function buildPikoStack(
  jobs: readonly JobDefinition[],
  props: Partial<PikoStackProps> = {},
  checks: StackChecks = {},
): { app: App; stack: PikoStack; template: Template; nag: AwsSolutionsChecks } {
  const app = new App({
    context: {
      'aws:cdk:bundling-stacks': [],
      ...(checks.cfnGuard ? { [cxapi.FAIL_SYNTH_ON_VALIDATION_ERRORS_CONTEXT]: false } : {}),
    },
  });
  const nag = new AwsSolutionsChecks(app);
  Validations.of(app).addPlugins(nag);
  if (checks.cfnGuard) Validations.of(app).addPlugins(new ControlTowerChecks());
  const stack = new PikoStack(app, 'Piko', { jobs, ...props });
  return { app, stack, template: Template.fromStack(stack), nag };
}

/** A finding of a validation plugin, as CDK's validation report has it. */
export interface ReportedViolation {
  readonly ruleName: string;
  readonly description: string;
  readonly violatingConstructs: readonly { readonly constructPath: string }[];
  /** Acknowledged findings only. */
  readonly reason?: string;
}

/** What one validation plugin found in the last synthesis of `app`, from CDK's validation report. */
export function validationReport(
  app: App,
  pluginName: string,
): { violations: ReportedViolation[]; acknowledged: ReportedViolation[] } {
  const file = path.join(app.synth().directory, cxapi.VALIDATION_REPORT_FILE);
  const report = JSON.parse(readFileSync(file, 'utf8')) as {
    pluginReports: {
      pluginName: string;
      violations: ReportedViolation[];
      suppressedViolations?: ReportedViolation[];
    }[];
  };
  const plugin = report.pluginReports.find((candidate) => candidate.pluginName === pluginName);
  if (!plugin) throw new Error(`validationReport: no report of the plugin "${pluginName}"`);
  return { violations: plugin.violations, acknowledged: plugin.suppressedViolations ?? [] };
}

/** Resources of a template by logical id. */
export type Resources = Record<
  string,
  { Type: string; Properties?: Record<string, unknown>; DependsOn?: unknown }
>;

/**
 * Renders CloudFormation values as text, naming resources by construct path instead of hashed
 * logical ids: `{ 'Fn::GetAtt': ['StateDatabaseClusterProxy51BE2960', 'DBProxyArn'] }` →
 * `<StateDatabase/Cluster/Proxy.DBProxyArn>`, `{ Ref: 'AWS::Region' }` → `<AWS::Region>`.
 */
export function cfnText(stack: Stack): (value: unknown) => unknown {
  const paths = new Map<string, string>();
  for (const construct of stack.node.findAll()) {
    if (construct instanceof CfnElement) {
      const path = construct.node.path.replace(/^[^/]+\//, '').replace(/\/(Resource|Default)$/, '');
      paths.set(stack.resolve(construct.logicalId) as string, path);
    }
  }
  const name = (logicalId: string): string => paths.get(logicalId) ?? logicalId;
  const render = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(render);
    if (typeof value !== 'object' || value === null) return value;
    const record = value as Record<string, unknown>;
    if ('Ref' in record)
      return `<${String(record.Ref).startsWith('AWS::') ? record.Ref : name(String(record.Ref))}>`;
    if ('Fn::GetAtt' in record) {
      const [logicalId, attribute] = record['Fn::GetAtt'] as [string, string];
      return `<${name(logicalId)}.${attribute}>`;
    }
    if ('Fn::Join' in record) {
      const [separator, parts] = record['Fn::Join'] as [string, unknown[]];
      return parts.map((part) => String(render(part))).join(separator);
    }
    if ('Fn::Select' in record) {
      const [index, list] = record['Fn::Select'] as [number, unknown];
      const split = (list as Record<string, unknown>)['Fn::Split'] as [string, unknown] | undefined;
      return split
        ? `<Select(${index}, Split('${split[0]}', ${String(render(split[1])).replace(/^<(.*)>$/, '$1')}))>`
        : `<Select(${index}, ${JSON.stringify(render(list))})>`;
    }
    return Object.fromEntries(Object.entries(record).map(([key, inner]) => [key, render(inner)]));
  };
  return render;
}

/** The statements of the policies attached to a role, rendered by {@link cfnText}. */
export function roleStatements(stack: Stack, template: Template, role: IConstruct): unknown[] {
  const render = cfnText(stack);
  const roleLogicalId = stack.resolve((role.node.defaultChild as CfnElement).logicalId) as string;
  const resources = template.toJSON().Resources as Resources;
  return Object.values(resources)
    .filter(
      (resource) =>
        resource.Type === 'AWS::IAM::Policy' &&
        ((resource.Properties?.Roles ?? []) as unknown[]).some(
          (role) => (role as { Ref?: string }).Ref === roleLogicalId,
        ),
    )
    .flatMap(
      (policy) =>
        render(
          (policy.Properties?.PolicyDocument as { Statement?: unknown[] } | undefined)?.Statement ?? [],
        ) as unknown[],
    );
}
