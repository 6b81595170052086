/**
 * Resolves CloudFormation intrinsic functions in a synthesized template to local stand-ins: the
 * pseudo parameters to a fixed test account and region, `Ref`/`Fn::GetAtt` to real-shaped names and
 * ARNs, and the RDS Proxy endpoint to the local IAM proxy. Anything it does not know (a resource
 * type, an attribute, an intrinsic) throws, naming it: a silent guess would test something else.
 */
import { createHash } from 'node:crypto';

/** The test account every ARN is in. */
export const TEST_ACCOUNT = '123456789012';
/** The test region (`AWS_REGION` of every sandbox, the region of every ARN). */
export const TEST_REGION = 'eu-west-1';
/** The test partition. */
export const TEST_PARTITION = 'aws';

/** A CloudFormation template, as far as the resolver reads it. */
export interface CfnTemplate {
  readonly Resources: Readonly<Record<string, CfnResource>>;
  readonly Mappings?: Readonly<Record<string, Readonly<Record<string, Readonly<Record<string, unknown>>>>>>;
  readonly Outputs?: Readonly<Record<string, { readonly Value: unknown }>>;
}

/** One resource of a template. */
export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Readonly<Record<string, unknown>>;
  readonly Metadata?: Readonly<Record<string, unknown>>;
  readonly DependsOn?: unknown;
}

/** Where the stand-ins point. */
export interface StandIns {
  /** The stack's name (`AWS::StackName`). */
  readonly stackName: string;
  /** What `Fn::GetAtt [<DBProxy>, Endpoint]` becomes: the host the functions connect to. */
  readonly proxyEndpoint: string;
  /** @default TEST_ACCOUNT */
  readonly account?: string;
  /** @default TEST_REGION */
  readonly region?: string;
}

/** Thrown for an intrinsic, resource type or attribute the resolver has no stand-in for. */
export class UnresolvableTokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnresolvableTokenError';
  }
}

/** A resolver bound to one template and one set of stand-ins. */
export interface CfnResolver {
  /** `value` with every intrinsic replaced by its stand-in. @throws UnresolvableTokenError */
  resolve(value: unknown): unknown;
  /** `value` resolved, which must be a string. @throws UnresolvableTokenError */
  resolveString(value: unknown): string;
  /** The stand-in of `Ref <logicalId>`. */
  ref(logicalId: string): string;
  /** The stand-in of `Fn::GetAtt [<logicalId>, <attribute>]`. */
  getAtt(logicalId: string, attribute: string): string;
}

/** Creates a resolver for `template`. */
export function createCfnResolver(template: CfnTemplate, standIns: StandIns): CfnResolver {
  const account = standIns.account ?? TEST_ACCOUNT;
  const region = standIns.region ?? TEST_REGION;
  const partition = TEST_PARTITION;
  const pseudo: Record<string, string> = {
    'AWS::AccountId': account,
    'AWS::Region': region,
    'AWS::Partition': partition,
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::StackName': standIns.stackName,
  };
  const arn = (service: string, resource: string, inRegion = true) =>
    `arn:${partition}:${service}:${inRegion ? region : ''}:${account}:${resource}`;

  const resourceOf = (logicalId: string): CfnResource => {
    const resource = template.Resources[logicalId];
    if (!resource) throw new UnresolvableTokenError(`no resource "${logicalId}" in the template`);
    return resource;
  };
  /** A stable pseudo-random hex string per resource, so ids look real and never collide. */
  const hex = (logicalId: string, length: number) =>
    createHash('sha256').update(logicalId).digest('hex').slice(0, length);

  const NAME_PROPERTIES: Readonly<Record<string, string>> = {
    'AWS::Lambda::Function': 'FunctionName',
    'AWS::IAM::Role': 'RoleName',
    'AWS::Logs::LogGroup': 'LogGroupName',
    'AWS::StepFunctions::StateMachine': 'StateMachineName',
    'AWS::ECS::TaskDefinition': 'Family',
    'AWS::ECS::Cluster': 'ClusterName',
    'AWS::RDS::DBProxy': 'DBProxyName',
    'AWS::SQS::Queue': 'QueueName',
    'AWS::SNS::Topic': 'TopicName',
    'AWS::Scheduler::ScheduleGroup': 'Name',
    'AWS::Scheduler::Schedule': 'Name',
    'AWS::SecretsManager::Secret': 'Name',
    'AWS::RDS::DBCluster': 'DBClusterIdentifier',
    'AWS::S3::Bucket': 'BucketName',
  };

  function physicalName(logicalId: string): string {
    const resource = resourceOf(logicalId);
    const property = NAME_PROPERTIES[resource.Type];
    const given = property ? resource.Properties?.[property] : undefined;
    if (given !== undefined) return resolveString(given);
    // CloudFormation's generated names: <stack>-<logical id>-<suffix>, lower case where AWS requires it.
    const generated = `${`${standIns.stackName}-${logicalId}`.slice(0, 50)}-${hex(logicalId, 12).toUpperCase()}`;
    if (resource.Type === 'AWS::Logs::LogGroup') return `/aws/piko/${generated}`;
    // Cluster identifiers and bucket names are lower case.
    if (resource.Type === 'AWS::RDS::DBCluster' || resource.Type === 'AWS::S3::Bucket')
      return generated.toLowerCase();
    return generated;
  }

  function ref(logicalId: string): string {
    const known = pseudo[logicalId];
    if (known !== undefined) return known;
    const resource = resourceOf(logicalId);
    const name = () => physicalName(logicalId);
    switch (resource.Type) {
      case 'AWS::Lambda::Function':
      case 'AWS::IAM::Role':
      case 'AWS::Logs::LogGroup':
      case 'AWS::ECS::Cluster':
      case 'AWS::RDS::DBProxy':
      case 'AWS::RDS::DBCluster':
      case 'AWS::Scheduler::ScheduleGroup':
      case 'AWS::S3::Bucket':
        return name();
      case 'AWS::StepFunctions::StateMachine':
        return arn('states', `stateMachine:${name()}`);
      case 'AWS::ECS::TaskDefinition':
        return arn('ecs', `task-definition/${name()}:1`);
      case 'AWS::SQS::Queue':
        return `https://sqs.${region}.amazonaws.com/${account}/${name()}`;
      case 'AWS::SNS::Topic':
        return arn('sns', name());
      case 'AWS::SecretsManager::Secret':
        return arn('secretsmanager', `secret:${name()}-${hex(logicalId, 6)}`);
      case 'AWS::KMS::Key':
        return uuidOf(logicalId);
      case 'AWS::EC2::VPC':
        return `vpc-${hex(logicalId, 17)}`;
      case 'AWS::EC2::Subnet':
        return `subnet-${hex(logicalId, 17)}`;
      case 'AWS::EC2::SecurityGroup':
        return `sg-${hex(logicalId, 17)}`;
      default:
        throw new UnresolvableTokenError(
          `no stand-in for Ref of ${resource.Type} "${logicalId}"; add one to test/artifacts/support/cfn-resolver.ts`,
        );
    }
  }

  function getAtt(logicalId: string, attribute: string): string {
    const resource = resourceOf(logicalId);
    const key = `${resource.Type}.${attribute}`;
    const name = () => physicalName(logicalId);
    switch (key) {
      case 'AWS::Lambda::Function.Arn':
        return arn('lambda', `function:${name()}`);
      case 'AWS::IAM::Role.Arn':
        return arn('iam', `role/${name()}`, false);
      case 'AWS::Logs::LogGroup.Arn':
        return arn('logs', `log-group:${name()}:*`);
      case 'AWS::StepFunctions::StateMachine.Arn':
        return ref(logicalId);
      case 'AWS::StepFunctions::StateMachine.Name':
        return name();
      case 'AWS::ECS::Cluster.Arn':
        return arn('ecs', `cluster/${name()}`);
      case 'AWS::ECS::TaskDefinition.TaskDefinitionArn':
        return ref(logicalId);
      case 'AWS::KMS::Key.Arn':
        return arn('kms', `key/${uuidOf(logicalId)}`);
      case 'AWS::SQS::Queue.Arn':
        return arn('sqs', name());
      case 'AWS::SQS::Queue.QueueName':
        return name();
      case 'AWS::S3::Bucket.Arn':
        return `arn:${partition}:s3:::${name()}`;
      case 'AWS::SNS::Topic.TopicArn':
        return ref(logicalId);
      case 'AWS::Scheduler::ScheduleGroup.Arn':
        return arn('scheduler', `schedule-group/${name()}`);
      case 'AWS::RDS::DBProxy.Endpoint':
        return standIns.proxyEndpoint;
      case 'AWS::RDS::DBProxy.DBProxyArn':
        return arn('rds', `db-proxy:${proxyResourceId(logicalId)}`);
      case 'AWS::RDS::DBCluster.Endpoint.Port':
        return '3306';
      case 'AWS::EC2::SecurityGroup.GroupId':
        return ref(logicalId);
      default:
        throw new UnresolvableTokenError(
          `no stand-in for Fn::GetAtt ${attribute} of ${resource.Type} "${logicalId}"; add one to test/artifacts/support/cfn-resolver.ts`,
        );
    }
  }

  function proxyResourceId(logicalId: string): string {
    return `prx-${hex(logicalId, 17)}`;
  }

  function uuidOf(logicalId: string): string {
    const h = hex(logicalId, 32);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  function sub(text: string, variables: Record<string, unknown>): string {
    return text.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
      if (name.startsWith('!')) return `\${${name.slice(1)}}`;
      if (Object.hasOwn(variables, name)) return resolveString(variables[name]);
      const dot = name.indexOf('.');
      return dot > 0 ? getAtt(name.slice(0, dot), name.slice(dot + 1)) : ref(name);
    });
  }

  function resolve(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(resolve);
    if (value === null || typeof value !== 'object') return value;
    const entries = Object.entries(value as Record<string, unknown>);
    const [first] = entries;
    if (entries.length === 1 && first && (first[0] === 'Ref' || first[0].startsWith('Fn::'))) {
      return intrinsic(first[0], first[1]);
    }
    return Object.fromEntries(entries.map(([key, inner]) => [key, resolve(inner)]));
  }

  function intrinsic(name: string, argument: unknown): unknown {
    switch (name) {
      case 'Ref':
        return ref(String(argument));
      case 'Fn::GetAtt': {
        const [logicalId, ...attribute] = Array.isArray(argument) ? argument : String(argument).split('.');
        return getAtt(String(logicalId), attribute.join('.'));
      }
      case 'Fn::Join': {
        const [separator, parts] = argument as [string, unknown];
        const list = resolve(parts);
        if (!Array.isArray(list)) throw new UnresolvableTokenError('Fn::Join of something not a list');
        return list.map((part) => String(part)).join(separator);
      }
      case 'Fn::Sub': {
        if (typeof argument === 'string') return sub(argument, {});
        const [text, variables] = argument as [string, Record<string, unknown>];
        return sub(text, variables ?? {});
      }
      case 'Fn::Select': {
        const [index, list] = argument as [unknown, unknown];
        const items = resolve(list);
        const at = Number(resolve(index));
        if (!Array.isArray(items) || !(at >= 0 && at < items.length)) {
          throw new UnresolvableTokenError(`Fn::Select index ${at} out of ${JSON.stringify(items)}`);
        }
        return items[at];
      }
      case 'Fn::Split': {
        const [separator, text] = argument as [string, unknown];
        return resolveString(text).split(separator);
      }
      case 'Fn::GetAZs':
        return [`${region}a`, `${region}b`, `${region}c`];
      case 'Fn::FindInMap': {
        const [map, top, second] = (argument as unknown[]).map((part) => resolveString(part));
        const found = template.Mappings?.[map!]?.[top!]?.[second!];
        if (found === undefined) throw new UnresolvableTokenError(`Fn::FindInMap ${map}.${top}.${second}`);
        return found;
      }
      default:
        throw new UnresolvableTokenError(
          `no stand-in for ${name}; add it to test/artifacts/support/cfn-resolver.ts`,
        );
    }
  }

  function resolveString(value: unknown): string {
    const resolved = resolve(value);
    if (typeof resolved !== 'string') {
      throw new UnresolvableTokenError(`expected a string, got ${JSON.stringify(resolved)}`);
    }
    return resolved;
  }

  return { resolve, resolveString, ref, getAtt };
}
