/**
 * The CDK app (`cdk.json`): the Piko stack with the project's jobs, checked by cdk-nag's AWS
 * Solutions rules and by cfn-guard's AWS Control Tower proactive controls (`infra/cfn-guard.ts`).
 * No environment lookups, so `npx cdk synth` needs no AWS credentials (nor network, nor Docker).
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { loadJobs } from '../shared/registry.ts';
import { ControlTowerChecks } from './cfn-guard.ts';
import { PikoStack } from './piko-stack.ts';

const app = new App();
Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ControlTowerChecks());

const registry = await loadJobs();
const stackName = app.node.tryGetContext('piko:stackName') ?? 'Piko';
new PikoStack(app, stackName, {
  jobs: registry.list(),
  alarmEmail: app.node.tryGetContext('piko:alarmEmail'),
});
app.synth();
