/**
 * Resolves the intrinsic functions of a synthesized CloudFormation template to the values
 * CloudFormation would give them in one account and region: real-shaped physical names and ARNs
 * (`arn:aws:lambda:eu-west-1:123456789012:function:Piko-DispatcherFunction6D5F34E4-1A2B3C4D5E6F`),
 * deterministic (a hash of the logical id), so the state machines, the environments and the IAM
 * simulation of the artifact tier all agree on every ARN.
 *
 * Pure: no aws-cdk-lib, nothing rendered again from a construct.
 */
import { createHash } from 'node:crypto';

/** Where the stack is deployed, as far as ARNs go. */
export interface DeployTarget {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  readonly stackName: string;
}

/** The account and region the artifact tier deploys to. */
export const ARTIFACT_TARGET: DeployTarget = {
  partition: 'aws',
  region: 'eu-west-1',
  account: '123456789012',
  stackName: 'Piko',
};

/** A CloudFormation template as synthesized (`cdk.out/<stack>.template.json`). */
export interface CfnTemplate {
  readonly Resources: Readonly<Record<string, CfnResource>>;
  readonly Outputs?: Readonly<Record<string, { readonly Value: unknown }>>;
}

/** One resource of a {@link CfnTemplate}. */
export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Readonly<Record<string, unknown>>;
}

/**
 * Values that replace what a logical id's `Ref` or `Fn::GetAtt` gives, keyed `LogicalId` (Ref) or
 * `LogicalId.Attribute` (GetAtt): how a test points an endpoint at a local stand-in.
 */
export type ValueOverrides = Readonly<Record<string, string>>;

/** Resolves `Ref`, `Fn::GetAtt`, `Fn::Join`, `Fn::Sub`, `Fn::Select`, `Fn::Split` in a template. */
export class TemplateValues {
  readonly template: CfnTemplate;
  readonly target: DeployTarget;
  readonly #overrides: ValueOverrides;

  /**
   * @param target @default ARTIFACT_TARGET
   * @param overrides @default {} (every value as CloudFormation would make it)
   */
  constructor(template: CfnTemplate, target: DeployTarget = ARTIFACT_TARGET, overrides: ValueOverrides = {}) {
    this.template = template;
    this.target = target;
    this.#overrides = overrides;
  }

  /** The same template and target with more overrides. */
  withOverrides(overrides: ValueOverrides): TemplateValues {
    return new TemplateValues(this.template, this.target, { ...this.#overrides, ...overrides });
  }

  /** The logical ids of the resources of one CloudFormation type, in template order. */
  logicalIdsOfType(type: string): string[] {
    return Object.entries(this.template.Resources)
      .filter(([, resource]) => resource.Type === type)
      .map(([logicalId]) => logicalId);
  }

  /** A resource by logical id. @throws Error when the template has none. */
  resource(logicalId: string): CfnResource {
    const resource = this.template.Resources[logicalId];
    if (!resource) throw new Error(`the template has no resource "${logicalId}"`);
    return resource;
  }

  /** What `{ Ref }` gives: a pseudo parameter's value or the resource's physical id. */
  ref(name: string): string {
    const override = this.#overrides[name];
    if (override !== undefined) return override;
    const pseudo = this.#pseudo(name);
    if (pseudo !== undefined) return pseudo;
    return this.#physical(name).ref;
  }

  /** What `{ Fn::GetAtt: [logicalId, attribute] }` gives. */
  getAtt(logicalId: string, attribute: string): string {
    const override = this.#overrides[`${logicalId}.${attribute}`];
    if (override !== undefined) return override;
    const physical = this.#physical(logicalId);
    const value = physical.attributes[attribute];
    if (value === undefined) {
      throw new Error(
        `TemplateValues: no value for Fn::GetAtt ${logicalId}.${attribute} (${this.resource(logicalId).Type}); add it to template-values.ts`,
      );
    }
    return value;
  }

  /** A value with every intrinsic function resolved (objects and arrays deeply). */
  resolve(value: unknown): unknown {
    if (Array.isArray(value)) return value.map((item) => this.resolve(item));
    if (typeof value !== 'object' || value === null) return value;
    const entries = Object.entries(value);
    if (entries.length === 1) {
      const [[key, args]] = entries as [[string, unknown]];
      if (key === 'Ref' || key.startsWith('Fn::')) return this.#intrinsic(key, args);
    }
    return Object.fromEntries(entries.map(([key, inner]) => [key, this.resolve(inner)]));
  }

  /** A value that must resolve to a string. @throws Error naming what it got. */
  resolveString(value: unknown): string {
    const resolved = this.resolve(value);
    if (typeof resolved !== 'string') throw new Error(`expected a string, got ${JSON.stringify(resolved)}`);
    return resolved;
  }

  /** `arn:<partition>:<service>:<region>:<account>:<resource>`. */
  arn(service: string, resource: string, options: { global?: boolean } = {}): string {
    const { partition, region, account } = this.target;
    return `arn:${partition}:${service}:${options.global ? '' : region}:${account}:${resource}`;
  }

  #intrinsic(fn: string, args: unknown): unknown {
    switch (fn) {
      case 'Ref':
        if (typeof args === 'string') return this.ref(args);
        break;
      case 'Fn::GetAtt': {
        const [logicalId, attribute] =
          typeof args === 'string' ? splitOnce(args, '.') : Array.isArray(args) ? args : [];
        if (typeof logicalId === 'string' && typeof attribute === 'string')
          return this.getAtt(logicalId, attribute);
        break;
      }
      case 'Fn::Join': {
        const [separator, parts] = Array.isArray(args) ? args : [];
        if (typeof separator === 'string') {
          const list = this.resolve(parts);
          if (Array.isArray(list)) return list.map(String).join(separator);
        }
        break;
      }
      case 'Fn::Sub': {
        const [text, bindings] = typeof args === 'string' ? [args, {}] : Array.isArray(args) ? args : [];
        if (typeof text === 'string') {
          const bound = this.resolve(bindings ?? {}) as Record<string, unknown>;
          return text.replace(/\$\{([^}]*)\}/g, (_match, name: string) => {
            if (name.startsWith('!')) return `\${${name.slice(1)}}`;
            if (name in bound) return String(bound[name]);
            const dot = name.indexOf('.');
            return dot < 0 ? this.ref(name) : this.getAtt(name.slice(0, dot), name.slice(dot + 1));
          });
        }
        break;
      }
      case 'Fn::Select': {
        const [index, list] = Array.isArray(args) ? args : [];
        const resolved = this.resolve(list);
        if (Array.isArray(resolved)) return resolved[Number(this.resolve(index))];
        break;
      }
      case 'Fn::Split': {
        const [separator, text] = Array.isArray(args) ? args : [];
        if (typeof separator === 'string') return this.resolveString(text).split(separator);
        break;
      }
      case 'Fn::GetAZs':
        return [`${this.target.region}a`, `${this.target.region}b`, `${this.target.region}c`];
    }
    throw new Error(`TemplateValues: cannot resolve ${JSON.stringify({ [fn]: args })}`);
  }

  #pseudo(name: string): string | undefined {
    const { partition, region, account, stackName } = this.target;
    switch (name) {
      case 'AWS::Partition':
        return partition;
      case 'AWS::Region':
        return region;
      case 'AWS::AccountId':
        return account;
      case 'AWS::URLSuffix':
        return 'amazonaws.com';
      case 'AWS::StackName':
        return stackName;
      case 'AWS::StackId':
        return this.arn('cloudformation', `stack/${stackName}/${uuid(stackName)}`);
      case 'AWS::NoValue':
        return undefined;
    }
    return undefined;
  }

  readonly #cache = new Map<string, Physical>();

  #physical(logicalId: string): Physical {
    let physical = this.#cache.get(logicalId);
    if (!physical) {
      physical = this.#makePhysical(logicalId, this.resource(logicalId));
      this.#cache.set(logicalId, physical);
    }
    return physical;
  }

  /** The physical id and attributes CloudFormation gives a resource of this type. */
  #makePhysical(logicalId: string, resource: CfnResource): Physical {
    const properties = resource.Properties ?? {};
    const named = (property: string, generated: () => string): string => {
      const value = properties[property];
      return value === undefined ? generated() : this.resolveString(value);
    };
    // CloudFormation's generated names: <stack>-<logical id, shortened>-<12 random characters>.
    const generated = (max = 64) => {
      const suffix = digest(logicalId, 12).toUpperCase();
      const room = Math.max(1, max - this.target.stackName.length - suffix.length - 2);
      return `${this.target.stackName}-${logicalId.slice(0, room)}-${suffix}`;
    };
    const hex = (length: number) => digest(logicalId, length);
    const { region } = this.target;
    switch (resource.Type) {
      case 'AWS::Lambda::Function': {
        const name = named('FunctionName', () => generated(64));
        return { ref: name, attributes: { Arn: this.arn('lambda', `function:${name}`) } };
      }
      case 'AWS::StepFunctions::StateMachine': {
        const name = named('StateMachineName', () => generated(80));
        const arn = this.arn('states', `stateMachine:${name}`);
        return { ref: arn, attributes: { Arn: arn, Name: name } };
      }
      case 'AWS::IAM::Role': {
        const name = named('RoleName', () => generated(64));
        return {
          ref: name,
          attributes: {
            Arn: this.arn('iam', `role/${name}`, { global: true }),
            RoleId: `AROA${hex(17).toUpperCase()}`,
          },
        };
      }
      case 'AWS::IAM::Policy':
        return { ref: named('PolicyName', () => generated(128)), attributes: {} };
      case 'AWS::ECS::Cluster': {
        const name = named('ClusterName', () => generated(255));
        return { ref: name, attributes: { Arn: this.arn('ecs', `cluster/${name}`) } };
      }
      case 'AWS::ECS::TaskDefinition': {
        const family = named('Family', () => generated(255));
        const arn = this.arn('ecs', `task-definition/${family}:1`);
        return { ref: arn, attributes: { TaskDefinitionArn: arn } };
      }
      case 'AWS::EC2::VPC':
        return {
          ref: `vpc-${hex(17)}`,
          attributes: { CidrBlock: '10.0.0.0/16', DefaultSecurityGroup: `sg-${hex(17)}` },
        };
      case 'AWS::EC2::Subnet':
        return { ref: `subnet-${hex(17)}`, attributes: { SubnetId: `subnet-${hex(17)}` } };
      case 'AWS::EC2::SecurityGroup':
        return { ref: `sg-${hex(17)}`, attributes: { GroupId: `sg-${hex(17)}` } };
      case 'AWS::RDS::DBProxy': {
        const name = named('DBProxyName', () => generated(60).toLowerCase());
        return {
          ref: name,
          attributes: {
            DBProxyArn: this.arn('rds', `db-proxy:prx-${hex(17)}`),
            Endpoint: `${name}.proxy-${hex(12)}.${region}.rds.amazonaws.com`,
          },
        };
      }
      case 'AWS::RDS::DBCluster': {
        const id = named('DBClusterIdentifier', () => generated(63).toLowerCase());
        return {
          ref: id,
          attributes: {
            'Endpoint.Address': `${id}.cluster-${hex(12)}.${region}.rds.amazonaws.com`,
            'Endpoint.Port': '3306',
            'ReadEndpoint.Address': `${id}.cluster-ro-${hex(12)}.${region}.rds.amazonaws.com`,
            DBClusterArn: this.arn('rds', `cluster:${id}`),
            DBClusterResourceId: `cluster-${hex(26).toUpperCase()}`,
          },
        };
      }
      case 'AWS::Logs::LogGroup': {
        const name = named('LogGroupName', () => generated(512));
        return { ref: name, attributes: { Arn: this.arn('logs', `log-group:${name}:*`) } };
      }
      case 'AWS::KMS::Key': {
        const id = uuid(logicalId);
        return { ref: id, attributes: { Arn: this.arn('kms', `key/${id}`), KeyId: id } };
      }
      case 'AWS::SQS::Queue': {
        const name = named('QueueName', () => generated(80));
        return {
          ref: `https://sqs.${region}.amazonaws.com/${this.target.account}/${name}`,
          attributes: {
            Arn: this.arn('sqs', name),
            QueueName: name,
            QueueUrl: `https://sqs.${region}.amazonaws.com/${this.target.account}/${name}`,
          },
        };
      }
      case 'AWS::SNS::Topic': {
        const name = named('TopicName', () => generated(256));
        const arn = this.arn('sns', name);
        return { ref: arn, attributes: { TopicArn: arn, TopicName: name } };
      }
      case 'AWS::SecretsManager::Secret':
      case 'AWS::SecretsManager::SecretTargetAttachment': {
        const arn = this.arn('secretsmanager', `secret:${generated(64)}-${hex(6)}`);
        return { ref: arn, attributes: { Id: arn } };
      }
      case 'AWS::Scheduler::ScheduleGroup': {
        const name = named('Name', () => generated(64));
        return { ref: name, attributes: { Arn: this.arn('scheduler', `schedule-group/${name}`) } };
      }
      case 'AWS::Scheduler::Schedule': {
        const name = named('Name', () => generated(64));
        const group =
          properties.GroupName === undefined ? 'default' : this.resolveString(properties.GroupName);
        return { ref: name, attributes: { Arn: this.arn('scheduler', `schedule/${group}/${name}`) } };
      }
    }
    // Anything else: a generated name and an ARN in its service's usual shape.
    const [, service = 'unknown', type = 'resource'] = resource.Type.split('::');
    const name = generated(64);
    return { ref: name, attributes: { Arn: this.arn(service.toLowerCase(), `${slug(type)}/${name}`) } };
  }
}

interface Physical {
  readonly ref: string;
  readonly attributes: Readonly<Record<string, string>>;
}

function digest(text: string, length: number): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}

function uuid(seed: string): string {
  const hex = digest(`uuid:${seed}`, 32);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function splitOnce(text: string, separator: string): string[] {
  const at = text.indexOf(separator);
  return at < 0 ? [] : [text.slice(0, at), text.slice(at + 1)];
}

/** `TaskDefinition` → `task-definition`. */
function slug(type: string): string {
  return type.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}
