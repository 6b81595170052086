/**
 * The state machines of a synthesized template, as Step Functions would hold them after the deploy:
 * each `AWS::StepFunctions::StateMachine`'s `DefinitionString` (an `Fn::Join` of text and tokens)
 * resolved by the tier's token resolver to the real-shaped ARNs of the same template. Never rendered
 * again from the construct: what runs is what the template says.
 */
/** A CloudFormation template, as far as this module reads it. */
export interface TemplateResources {
  readonly Resources: Readonly<
    Record<string, { readonly Type: string; readonly Properties?: Readonly<Record<string, unknown>> }>
  >;
}

/** Resolves a template's tokens to real-shaped values (`cfn-resolver.ts`'s `CfnResolver` is one). */
export interface TemplateTokens {
  resolve(value: unknown): unknown;
  resolveString(value: unknown): string;
  ref(logicalId: string): string;
  getAtt(logicalId: string, attribute: string): string;
}

/** The logical ids of a template's resources of one type, in template order. */
export function logicalIdsOfType(template: TemplateResources, type: string): string[] {
  return Object.entries(template.Resources)
    .filter(([, resource]) => resource.Type === type)
    .map(([logicalId]) => logicalId);
}

/** One state machine of the template. */
export interface TemplateStateMachine {
  readonly logicalId: string;
  /** `StateMachineName`. */
  readonly name: string;
  /** `arn:aws:states:<region>:<account>:stateMachine:<name>`. */
  readonly arn: string;
  /** The execution role's ARN (`RoleArn`): the principal of the calls its tasks make. */
  readonly roleArn: string;
  /** The execution role's logical id. */
  readonly roleLogicalId: string | undefined;
  /** `STANDARD` or `EXPRESS`. */
  readonly type: string;
  /** The ASL text, tokens resolved. */
  readonly definition: string;
}

/**
 * Every state machine of the template, by ARN.
 * @throws Error when a definition does not resolve to valid JSON.
 */
export function templateStateMachines(
  template: TemplateResources,
  tokens: TemplateTokens,
): Map<string, TemplateStateMachine> {
  const machines = new Map<string, TemplateStateMachine>();
  for (const logicalId of logicalIdsOfType(template, 'AWS::StepFunctions::StateMachine')) {
    const properties = template.Resources[logicalId]?.Properties ?? {};
    if (properties.DefinitionString === undefined) {
      throw new Error(
        `state machine ${logicalId} has no DefinitionString (DefinitionS3Location is not supported here)`,
      );
    }
    const definition = tokens.resolveString(properties.DefinitionString);
    try {
      JSON.parse(definition);
    } catch (error) {
      throw new Error(
        `state machine ${logicalId}: the resolved DefinitionString is not JSON: ${(error as Error).message}`,
      );
    }
    const arn = tokens.ref(logicalId);
    const role = properties.RoleArn as { 'Fn::GetAtt'?: [string, string] } | undefined;
    machines.set(arn, {
      logicalId,
      name: tokens.getAtt(logicalId, 'Name'),
      arn,
      roleArn: tokens.resolveString(properties.RoleArn),
      roleLogicalId: role?.['Fn::GetAtt']?.[0],
      type: typeof properties.StateMachineType === 'string' ? properties.StateMachineType : 'STANDARD',
      definition,
    });
  }
  return machines;
}

/** The state machine named `name`. @throws Error listing the names there are. */
export function stateMachineNamed(
  machines: ReadonlyMap<string, TemplateStateMachine>,
  name: string,
): TemplateStateMachine {
  for (const machine of machines.values()) if (machine.name === name) return machine;
  throw new Error(
    `no state machine named "${name}" in the template (there are: ${[...machines.values()].map((m) => m.name).join(', ')})`,
  );
}
