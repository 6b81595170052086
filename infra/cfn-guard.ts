/**
 * The second rule set the stack is checked with, after cdk-nag: the AWS Control Tower proactive
 * controls, run by cfn-guard (`@cdklabs/cdk-validator-cfnguard` bundles both; the binary runs
 * offline, without Docker, on Linux and macOS, x86_64 and arm64). Findings are acknowledged rule by
 * rule on the construct they are about (`acknowledgeGuardRule` in `infra/nag.ts`); docs/aws.md lists
 * every acknowledgement with its reason.
 */
import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import type {
  IPolicyValidationContext,
  IPolicyValidationPlugin,
  PolicyValidationPluginReport,
} from 'aws-cdk-lib';
import { CFN_GUARD_NAMESPACE } from './nag.ts';

/**
 * `CfnGuardValidator` with the Control Tower controls, corrected in two ways so that an
 * unacknowledged finding always fails synthesis:
 * - every violation is an error. The plugin sets no severity, and CDK (2.276) counts a report with
 *   at least one acknowledged violation as successful when the rest have no severity;
 * - a rule that names resources and also reports the same failure once more without one (the
 *   plugin's reading of a rule's list variables, CT.RDS.PR.25 for example: locations `/0`, `/1`, no logical id) keeps only the resources, so the
 *   acknowledgement on the resource covers it; a failure that names no resource at all stays.
 */
export class ControlTowerChecks implements IPolicyValidationPlugin {
  readonly name = CFN_GUARD_NAMESPACE;
  readonly version: string | undefined;
  readonly ruleIds: string[] | undefined;
  private readonly guard = new CfnGuardValidator({ controlTowerRulesEnabled: true });

  constructor() {
    this.version = this.guard.version;
    this.ruleIds = this.guard.ruleIds;
  }

  validate(context: IPolicyValidationContext): PolicyValidationPluginReport {
    const report = this.guard.validate(context);
    const violations = report.violations.map((violation) => {
      const named = violation.violatingResources.filter((resource) => Boolean(resource.resourceLogicalId));
      return {
        ...violation,
        severity: 'error',
        violatingResources: named.length > 0 ? named : violation.violatingResources,
      };
    });
    return { ...report, success: violations.length === 0, violations };
  }
}
