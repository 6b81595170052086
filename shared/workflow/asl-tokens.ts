/**
 * Turns a resolved CloudFormation `DefinitionString` (a plain string, or an `Fn::Join` of strings and
 * `Ref` / `Fn::GetAtt` / `Fn::Sub` / pseudo parameters) into runnable ASL text with stable placeholders.
 *
 * Pure and dependency-free on purpose: the local runtime loads it without aws-cdk-lib.
 */

/** Values that pseudo parameters take in the rendered ASL. */
export const PSEUDO_PARAMETER_VALUES: Readonly<Record<string, string>> = {
  'AWS::Region': 'us-east-1',
  'AWS::Partition': 'aws',
  'AWS::AccountId': '000000000000',
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::StackName': 'piko',
  'AWS::StackId':
    'arn:aws:cloudformation:us-east-1:000000000000:stack/piko/00000000-0000-0000-0000-000000000000',
};

/**
 * The placeholder of a referenced resource:
 * `arn:aws:<service>:us-east-1:000000000000:<type slug>:piko-<ordinal>`, for example the first
 * `AWS::Lambda::Function` → `arn:aws:lambda:us-east-1:000000000000:function:piko-1`.
 */
export function placeholderArn(resourceType: string, ordinal: number): string {
  const [, service = 'unknown', type = 'resource'] = resourceType.split('::');
  return `arn:aws:${service.toLowerCase()}:us-east-1:000000000000:${slug(type)}:piko-${ordinal}`;
}

/**
 * Runnable ASL text from a resolved `DefinitionString`.
 *
 * Every distinct logical id becomes {@link placeholderArn} of its CloudFormation type, numbered by
 * first appearance within that type, so the same construct in two stacks (different logical ids)
 * gives the same ASL. `Ref` and `Fn::GetAtt … Arn` give the placeholder itself; any other attribute
 * gives `<placeholder>/<attribute>`. Pseudo parameters take {@link PSEUDO_PARAMETER_VALUES}.
 *
 * @param resourceTypeOf the CloudFormation type of a logical id (`AWS::Lambda::Function`).
 * @throws Error for an intrinsic function it cannot evaluate, or a logical id without a type.
 */
export function definitionToAsl(resolved: unknown, resourceTypeOf: (logicalId: string) => string): string {
  const placeholders = new Map<string, string>();
  const countByType = new Map<string, number>();

  const resource = (logicalId: string): string => {
    let placeholder = placeholders.get(logicalId);
    if (placeholder === undefined) {
      const type = resourceTypeOf(logicalId);
      if (typeof type !== 'string' || type === '') {
        throw new Error(`definitionToAsl: no resource type for logical id "${logicalId}"`);
      }
      const ordinal = (countByType.get(type) ?? 0) + 1;
      countByType.set(type, ordinal);
      placeholder = placeholderArn(type, ordinal);
      placeholders.set(logicalId, placeholder);
    }
    return placeholder;
  };

  const ref = (name: string): string => PSEUDO_PARAMETER_VALUES[name] ?? resource(name);
  const getAtt = (logicalId: string, attribute: string): string =>
    attribute === 'Arn' ? resource(logicalId) : `${resource(logicalId)}/${attribute}`;

  const evaluate = (value: unknown, variables: ReadonlyMap<string, string>): string => {
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new Error(`definitionToAsl: cannot evaluate ${JSON.stringify(value)}`);
    }
    const entries = Object.entries(value);
    if (entries.length !== 1) throw new Error(`definitionToAsl: cannot evaluate ${JSON.stringify(value)}`);
    const [[fn, args]] = entries as [[string, unknown]];
    switch (fn) {
      case 'Ref':
        if (typeof args !== 'string') break;
        return variables.get(args) ?? ref(args);
      case 'Fn::GetAtt': {
        const [logicalId, attribute] = typeof args === 'string' ? splitOnce(args, '.') : toPair(args);
        if (logicalId === undefined || attribute === undefined) break;
        return getAtt(logicalId, attribute);
      }
      case 'Fn::Join': {
        if (!Array.isArray(args) || args.length !== 2 || typeof args[0] !== 'string') break;
        const [separator, parts] = args as [string, unknown];
        if (!Array.isArray(parts)) break;
        return parts.map((part) => evaluate(part, variables)).join(separator);
      }
      case 'Fn::Sub': {
        if (typeof args === 'string') return substitute(args, variables);
        if (!Array.isArray(args) || typeof args[0] !== 'string') break;
        const [template, bindings] = args as [string, unknown];
        const inner = new Map(variables);
        if (bindings !== undefined) {
          if (typeof bindings !== 'object' || bindings === null) break;
          for (const [name, bound] of Object.entries(bindings)) inner.set(name, evaluate(bound, variables));
        }
        return substitute(template, inner);
      }
    }
    throw new Error(`definitionToAsl: unsupported intrinsic ${JSON.stringify(value)}`);
  };

  /** `${Name}`, `${Logical.Attr}` and the literal `${!Text}` of `Fn::Sub`. */
  const substitute = (template: string, variables: ReadonlyMap<string, string>): string =>
    template.replace(/\$\{([^}]*)\}/g, (_match, name: string) => {
      if (name.startsWith('!')) return `\${${name.slice(1)}}`;
      const bound = variables.get(name);
      if (bound !== undefined) return bound;
      if (name in PSEUDO_PARAMETER_VALUES) return ref(name);
      const dot = name.indexOf('.');
      return dot < 0 ? ref(name) : getAtt(name.slice(0, dot), name.slice(dot + 1));
    });

  return evaluate(resolved, new Map());
}

function splitOnce(text: string, separator: string): [string | undefined, string | undefined] {
  const at = text.indexOf(separator);
  return at < 0 ? [undefined, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

function toPair(value: unknown): [string | undefined, string | undefined] {
  if (!Array.isArray(value) || value.length !== 2) return [undefined, undefined];
  const [first, second] = value as [unknown, unknown];
  return typeof first === 'string' && typeof second === 'string' ? [first, second] : [undefined, undefined];
}

/** `TaskDefinition` → `task-definition`, `SecurityGroup` → `security-group`. */
function slug(type: string): string {
  return type
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/([A-Z])([A-Z][a-z])/g, '$1-$2')
    .toLowerCase();
}
