import { describe, expect, it } from 'vitest';
import { definitionToAsl, placeholderArn } from '../../../shared/workflow/asl-tokens.ts';

const types: Record<string, string> = {
  StageFnA1B2: 'AWS::Lambda::Function',
  DispatcherFnC3D4: 'AWS::Lambda::Function',
  ClusterE5F6: 'AWS::ECS::Cluster',
  TaskDefG7: 'AWS::ECS::TaskDefinition',
  SubnetOne: 'AWS::EC2::Subnet',
  GroupH8: 'AWS::EC2::SecurityGroup',
  QueueX: 'AWS::SQS::Queue',
};
const typeOf = (logicalId: string) => types[logicalId] ?? '';

describe('placeholderArn', () => {
  it('names the service and a slug of the type', () => {
    expect(placeholderArn('AWS::Lambda::Function', 1)).toBe(
      'arn:aws:lambda:us-east-1:000000000000:function:piko-1',
    );
    expect(placeholderArn('AWS::ECS::TaskDefinition', 2)).toBe(
      'arn:aws:ecs:us-east-1:000000000000:task-definition:piko-2',
    );
    expect(placeholderArn('AWS::EC2::SecurityGroup', 1)).toBe(
      'arn:aws:ec2:us-east-1:000000000000:security-group:piko-1',
    );
  });
});

describe('definitionToAsl', () => {
  it('returns a plain string as it is', () => {
    expect(definitionToAsl('{"StartAt":"A"}', typeOf)).toBe('{"StartAt":"A"}');
  });

  it('numbers resources per type by first appearance; Ref and GetAtt Arn agree', () => {
    const resolved = {
      'Fn::Join': [
        '',
        [
          '{"a":"',
          { 'Fn::GetAtt': ['DispatcherFnC3D4', 'Arn'] },
          '","b":"',
          { 'Fn::GetAtt': ['StageFnA1B2', 'Arn'] },
          '","c":"',
          { Ref: 'DispatcherFnC3D4' },
          '","d":"',
          { 'Fn::GetAtt': ['ClusterE5F6', 'Arn'] },
          '","e":"',
          { Ref: 'TaskDefG7' },
          '","f":"',
          { 'Fn::GetAtt': 'GroupH8.GroupId' },
          '"}',
        ],
      ],
    };
    expect(JSON.parse(definitionToAsl(resolved, typeOf))).toEqual({
      a: 'arn:aws:lambda:us-east-1:000000000000:function:piko-1',
      b: 'arn:aws:lambda:us-east-1:000000000000:function:piko-2',
      c: 'arn:aws:lambda:us-east-1:000000000000:function:piko-1',
      d: 'arn:aws:ecs:us-east-1:000000000000:cluster:piko-1',
      e: 'arn:aws:ecs:us-east-1:000000000000:task-definition:piko-1',
      f: 'arn:aws:ec2:us-east-1:000000000000:security-group:piko-1/GroupId',
    });
  });

  it('gives the same ASL for the same shape under different logical ids', () => {
    const shape = (fn: string, cluster: string) => ({
      'Fn::Join': ['', ['"', { 'Fn::GetAtt': [fn, 'Arn'] }, ' ', { 'Fn::GetAtt': [cluster, 'Arn'] }, '"']],
    });
    const other = (logicalId: string) =>
      ({ OtherFn: 'AWS::Lambda::Function', OtherCluster: 'AWS::ECS::Cluster' })[logicalId] ?? '';
    expect(definitionToAsl(shape('StageFnA1B2', 'ClusterE5F6'), typeOf)).toBe(
      definitionToAsl(shape('OtherFn', 'OtherCluster'), other),
    );
  });

  it('replaces pseudo parameters', () => {
    const resolved = {
      'Fn::Join': [
        ':',
        [
          { Ref: 'AWS::Partition' },
          { Ref: 'AWS::Region' },
          { Ref: 'AWS::AccountId' },
          { Ref: 'AWS::URLSuffix' },
        ],
      ],
    };
    expect(definitionToAsl(resolved, typeOf)).toBe('aws:us-east-1:000000000000:amazonaws.com');
  });

  it('evaluates Fn::Sub, with and without a variable map', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Fn::Sub syntax
    const template = 'arn:${AWS::Partition}:states:::lambda:invoke ${StageFnA1B2.Arn} ${QueueX} ${!Literal}';
    expect(definitionToAsl({ 'Fn::Sub': template }, typeOf)).toBe(
      'arn:aws:states:::lambda:invoke arn:aws:lambda:us-east-1:000000000000:function:piko-1 ' +
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the literal Fn::Sub leaves
        'arn:aws:sqs:us-east-1:000000000000:queue:piko-1 ${Literal}',
    );
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Fn::Sub syntax
    const withVariables = ['${Fn}|${AWS::Region}', { Fn: { 'Fn::GetAtt': ['DispatcherFnC3D4', 'Arn'] } }];
    expect(definitionToAsl({ 'Fn::Sub': withVariables }, typeOf)).toBe(
      'arn:aws:lambda:us-east-1:000000000000:function:piko-1|us-east-1',
    );
  });

  it('evaluates nested joins', () => {
    const resolved = { 'Fn::Join': ['', ['[', { 'Fn::Join': [',', ['1', { Ref: 'AWS::Region' }]] }, ']']] };
    expect(definitionToAsl(resolved, typeOf)).toBe('[1,us-east-1]');
  });

  it('refuses what it cannot evaluate, naming it', () => {
    expect(() => definitionToAsl({ 'Fn::Select': [0, ['a']] }, typeOf)).toThrow(
      /unsupported intrinsic.*Fn::Select/,
    );
    expect(() => definitionToAsl({ Ref: 'Missing' }, typeOf)).toThrow(
      /no resource type for logical id "Missing"/,
    );
    expect(() => definitionToAsl(null, typeOf)).toThrow(/cannot evaluate/);
  });

  it('is cheap to load: no aws-cdk-lib at the top of the module', async () => {
    const { readFile } = await import('node:fs/promises');
    const source = await readFile(new URL('../../../shared/workflow/asl-tokens.ts', import.meta.url), 'utf8');
    expect(source).not.toMatch(/^import /m);
  });
});
