/**
 * cdk-nag and cfn-guard acknowledgements. cdk-nag ones are narrowed to one finding of one rule on one construct (cdk-nag v3:
 * `RuleId[FindingId]`). Each call carries the reason a security reviewer reads.
 */
import { type CfnElement, Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** Acknowledges one cdk-nag rule on `scope` and everything under it. */
export function acknowledge(scope: IConstruct, ruleId: string, reason: string): void {
  Validations.of(scope).acknowledge({ id: ruleId, reason });
}

/**
 * Acknowledges one finding of a rule (`AwsSolutions-IAM5[Resource::*]`) on `scope` and everything
 * under it; other findings of the same rule still fail.
 */
export function acknowledgeFinding(scope: IConstruct, ruleId: string, finding: string, reason: string): void {
  Validations.of(scope).acknowledge({ id: `${ruleId}[${finding}]`, reason });
}

/** How cdk-nag writes `Fn::GetAtt <resource>.Arn` in a finding: `<LogicalId.Arn>`. */
export function arnToken(resource: IConstruct): string {
  const element = (resource.node.defaultChild ?? resource) as CfnElement;
  return `<${Stack.of(resource).getLogicalId(element)}.Arn>`;
}

/** How cdk-nag writes `Ref <resource>` in a finding: `<LogicalId>`. */
export function refToken(resource: IConstruct): string {
  const element = (resource.node.defaultChild ?? resource) as CfnElement;
  return `<${Stack.of(resource).getLogicalId(element)}>`;
}

/**
 * The rule namespace of `@cdklabs/cdk-validator-cfnguard` (its plugin name): CDK suppresses the
 * plugin's violations acknowledged as `<namespace>::<rule name>` on the resource or a parent.
 */
export const CFN_GUARD_NAMESPACE = 'cdk-validator-cfnguard';

/**
 * Acknowledges one cfn-guard rule (the AWS Control Tower proactive controls, by their Guard rule
 * name, `sqs_dlq_check`) on `scope` and everything under it, with the reason a reviewer reads.
 * docs/aws.md lists every one.
 */
export function acknowledgeGuardRule(scope: IConstruct, ruleName: string, reason: string): void {
  Validations.of(scope).acknowledge({ id: `${CFN_GUARD_NAMESPACE}::${ruleName}`, reason });
}
