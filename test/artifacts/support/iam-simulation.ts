/**
 * IAM by simulation: a call the artifacts made (or one they must never be able to make) checked
 * against the synthesized identity policies of the calling role, with `@cloud-copilot/iam-simulate`,
 * every ARN a resolved, real-shaped stand-in. No SCPs, no permission boundaries (the stack has none).
 */
import { runSimulation } from '@cloud-copilot/iam-simulate';
import type { CfnResolver } from './cfn-resolver.ts';
import { TEST_ACCOUNT } from './cfn-resolver.ts';
import type { SynthesizedApp } from './synth.ts';

/** An IAM policy document, resolved. */
export interface PolicyDocument {
  readonly Version?: string;
  readonly Statement: unknown[];
}

/** What IAM decides. */
export type IamDecision = 'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied';

/** One call to decide. */
export interface IamRequest {
  /** Who (for the table): the function's logical id or a short name. */
  readonly principal: string;
  /** The calling role's logical id in the template. */
  readonly roleLogicalId: string;
  readonly action: string;
  readonly resource: string;
  /** The request's condition keys (`ecs:cluster`). @default none */
  readonly context?: Readonly<Record<string, string>>;
}

/** A decided call, with what the test expects of it. */
export interface IamCheck extends IamRequest {
  readonly expected: 'Allowed' | 'Denied';
  /**
   * Where the call comes from: `recorded` (the artifacts made it), `must-deny`, or `control` (a call
   * that must be allowed, beside the denials, so they do not pass for the wrong reason).
   */
  readonly source: 'recorded' | 'must-deny' | 'control';
  readonly decision: IamDecision;
}

/**
 * The identity policies of a role, resolved: its inline `Policies` and every `AWS::IAM::Policy`
 * attached to it. @throws for managed policies (the stack attaches none; their documents are not in
 * the template).
 */
export function rolePolicies(
  app: SynthesizedApp,
  resolver: CfnResolver,
  roleLogicalId: string,
): { name: string; policy: PolicyDocument }[] {
  const role = app.template.Resources[roleLogicalId];
  if (role?.Type !== 'AWS::IAM::Role') throw new Error(`${roleLogicalId} is not an AWS::IAM::Role`);
  const managed = role.Properties?.ManagedPolicyArns;
  if (Array.isArray(managed) && managed.length > 0) {
    throw new Error(`${roleLogicalId} has managed policies, whose documents the template does not hold`);
  }
  const policies: { name: string; policy: PolicyDocument }[] = [];
  const inline = (role.Properties?.Policies ?? []) as { PolicyName: unknown; PolicyDocument: unknown }[];
  for (const policy of inline) {
    policies.push({
      name: resolver.resolveString(policy.PolicyName),
      policy: resolver.resolve(policy.PolicyDocument) as PolicyDocument,
    });
  }
  for (const [logicalId, resource] of app.resourcesOfType('AWS::IAM::Policy')) {
    const roles = (resource.Properties?.Roles ?? []) as unknown[];
    if (!roles.some((entry) => JSON.stringify(entry) === JSON.stringify({ Ref: roleLogicalId }))) continue;
    policies.push({
      name: logicalId,
      policy: resolver.resolve(resource.Properties?.PolicyDocument) as PolicyDocument,
    });
  }
  return policies;
}

/** Decides one request against the role's policies. @throws when iam-simulate rejects the request. */
export async function simulateCall(
  app: SynthesizedApp,
  resolver: CfnResolver,
  request: IamRequest,
): Promise<IamDecision> {
  const result = await runSimulation(
    {
      request: {
        principal: resolver.getAtt(request.roleLogicalId, 'Arn'),
        action: request.action,
        resource: { resource: request.resource, accountId: TEST_ACCOUNT },
        contextVariables: { ...request.context },
      },
      identityPolicies: rolePolicies(app, resolver, request.roleLogicalId),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
    },
    {},
  );
  if (result.resultType === 'error') {
    throw new Error(
      `iam-simulate refused ${request.action} on ${request.resource}: ${JSON.stringify(result.errors)}`,
    );
  }
  return result.overallResult as IamDecision;
}

/** Decides every request and pairs it with its expectation. */
export async function checkCalls(
  app: SynthesizedApp,
  resolver: CfnResolver,
  requests: readonly (IamRequest & Pick<IamCheck, 'expected' | 'source'>)[],
): Promise<IamCheck[]> {
  const checks: IamCheck[] = [];
  for (const request of requests) {
    checks.push({ ...request, decision: await simulateCall(app, resolver, request) });
  }
  return checks;
}

/** Whether a decision is what was expected (`Denied` accepts either kind of denial). */
export function asExpected(check: IamCheck): boolean {
  return check.expected === 'Allowed' ? check.decision === 'Allowed' : check.decision !== 'Allowed';
}

/** The checks as a table: call, principal, decision, expected. */
export function formatIamTable(checks: readonly IamCheck[]): string {
  const rows = [
    ['call', 'resource', 'principal', 'decision', 'expected', 'ok'],
    ...checks.map((check) => [
      check.action,
      check.resource,
      check.principal,
      check.decision,
      `${check.expected} (${check.source})`,
      asExpected(check) ? 'yes' : 'NO',
    ]),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const line = (row: string[]) =>
    `| ${row.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ')} |`;
  return [
    line(rows[0]!),
    `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`,
    ...rows.slice(1).map(line),
  ].join('\n');
}
