/**
 * The Lambda-like sandbox itself, on small hand-written assets: Node 24, nothing but the asset to
 * import from, Lambda's context and error shapes, a warm process, and cold starts after an init
 * error or a timeout. And the template resolver refusing what it does not know.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createCfnResolver } from './support/cfn-resolver.ts';
import { type LambdaSandbox, openLambdaSandbox } from './support/lambda-sandbox.ts';
import type { LambdaArtifact } from './support/synth.ts';

const root = mkdtempSync(path.join(tmpdir(), 'piko-sandbox-test-'));
const sandboxes: LambdaSandbox[] = [];
afterAll(async () => {
  for (const sandbox of sandboxes) await sandbox.close();
  rmSync(root, { recursive: true, force: true });
});

/** A function whose asset is `code` as index.mjs. */
async function sandboxOf(name: string, code: string, node?: string): Promise<LambdaSandbox> {
  const assetDir = path.join(root, name);
  mkdirSync(assetDir);
  writeFileSync(path.join(assetDir, 'index.mjs'), code);
  const fn: LambdaArtifact = {
    logicalId: name,
    constructPath: `Test/${name}/Resource`,
    assetDir,
    handler: 'index.handler',
    runtime: 'nodejs24.x',
    timeoutSeconds: 60,
    memoryMiB: 512,
    roleLogicalId: 'TestRole',
    templateEnvironment: {},
  };
  const sandbox = await openLambdaSandbox(fn, {
    environment: { FROM_TEMPLATE: 'yes' },
    functionName: `Piko-${name}`,
    functionArn: `arn:aws:lambda:eu-west-1:123456789012:function:Piko-${name}`,
    credentials: { accessKeyId: 'ASIATEST', secretAccessKey: 'secret', sessionToken: 'token' },
    caFile: '/dev/null',
    endpoints: { SFN: 'http://127.0.0.1:1' },
    node,
  });
  sandboxes.push(sandbox);
  return sandbox;
}

describe('Lambda sandbox', () => {
  it('runs the handler on Node 24 with the environment and a Lambda-shaped context, warm between invocations', async () => {
    const sandbox = await sandboxOf(
      'context',
      `let calls = 0;
       export const handler = async (event, context) => ({
         event, calls: ++calls, node: process.version, region: process.env.AWS_REGION,
         fromTemplate: process.env.FROM_TEMPLATE, sfn: process.env.AWS_ENDPOINT_URL_SFN,
         key: process.env.AWS_ACCESS_KEY_ID, fn: context.functionName, arn: context.invokedFunctionArn,
         remaining: context.getRemainingTimeInMillis() > 0, requestId: typeof context.awsRequestId,
       });`,
    );
    expect(await sandbox.invokeOk({ a: 1 })).toEqual({
      event: { a: 1 },
      calls: 1,
      node: 'v24.22.3',
      region: 'eu-west-1',
      fromTemplate: 'yes',
      sfn: 'http://127.0.0.1:1',
      key: 'ASIATEST',
      fn: 'Piko-context',
      arn: 'arn:aws:lambda:eu-west-1:123456789012:function:Piko-context',
      remaining: true,
      requestId: 'string',
    });
    expect(((await sandbox.invokeOk({})) as { calls: number }).calls).toBe(2);
    expect(sandbox.coldStarts()).toBe(1);
  });

  it('reports a thrown error as Lambda does: its name as errorType, its message, its stack', async () => {
    const sandbox = await sandboxOf(
      'throws',
      `class NonRetryableError extends Error { name = 'NonRetryableError'; }
       export const handler = async () => { throw new NonRetryableError('bad input'); };`,
    );
    const result = await sandbox.invoke({});
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect([result.error.errorType, result.error.errorMessage]).toEqual(['NonRetryableError', 'bad input']);
    expect(result.error.trace?.[0]).toBe('NonRetryableError: bad input');
  });

  it('resolves no package from outside the asset: an import of the repository’s mysql2 is Runtime.ImportModuleError', async () => {
    const sandbox = await sandboxOf(
      'imports',
      `import mysql from 'mysql2'; export const handler = async () => mysql;`,
    );
    const result = await sandbox.invoke({});
    expect(result.ok ? undefined : result.error.errorType).toBe('Runtime.ImportModuleError');
    expect(result.ok ? undefined : result.error.errorMessage).toMatch(
      /^Error: Cannot find package 'mysql2' imported from /,
    );
    expect(sandbox.coldStarts()).toBe(1);
    // An init error is not cached: the next invocation starts cold again.
    await sandbox.invoke({});
    expect(sandbox.coldStarts()).toBe(2);
  });

  it('times out as Lambda does and starts cold on the next invocation', async () => {
    const sandbox = await sandboxOf(
      'slow',
      `export const handler = async (event) => { if (event.hang) await new Promise(() => setInterval(() => {}, 1000)); return 'done'; };`,
    );
    expect(await sandbox.invoke({ hang: true }, { timeoutSeconds: 1 })).toEqual({
      ok: false,
      error: { errorType: 'Sandbox.Timedout', errorMessage: 'Task timed out after 1.00 seconds' },
    });
    expect(await sandbox.invoke({})).toEqual({ ok: true, payload: 'done' });
    expect(sandbox.coldStarts()).toBe(2);
  });

  it('rejects the invocation with the spawn error when its Node cannot be run, instead of hanging', async () => {
    const missingNode = path.join(root, 'no-such-node', 'bin', 'node');
    const sandbox = await sandboxOf('spawn-error', 'export const handler = async () => 1;', missingNode);
    await expect(sandbox.invoke({})).rejects.toThrow(
      `Lambda sandbox of spawn-error: cannot run ${missingNode}: spawn ${missingNode} ENOENT`,
    );
    // Still an error, not a hang, on the next invocation (a new process is tried).
    await expect(sandbox.invoke({})).rejects.toThrow(`spawn ${missingNode} ENOENT`);
    expect(sandbox.coldStarts()).toBe(2);
  });

  it('names a missing handler export as Runtime.HandlerNotFound', async () => {
    const sandbox = await sandboxOf('nohandler', 'export const other = 1;');
    expect(await sandbox.invoke({})).toEqual({
      ok: false,
      error: {
        errorType: 'Runtime.HandlerNotFound',
        errorMessage: 'index.handler is undefined or not exported',
      },
    });
  });
});

describe('template resolver', () => {
  const template = {
    Resources: {
      Fn: { Type: 'AWS::Lambda::Function', Properties: { FunctionName: 'piko-fn' } },
      Odd: { Type: 'AWS::Some::Thing' },
    },
  };
  const resolver = createCfnResolver(template, { stackName: 'Piko', proxyEndpoint: '127.0.0.9' });

  it('resolves Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select and Fn::Split to stand-ins', () => {
    expect(
      resolver.resolve({
        a: { 'Fn::GetAtt': ['Fn', 'Arn'] },
        b: { 'Fn::Join': ['-', [{ Ref: 'AWS::Region' }, { Ref: 'Fn' }]] },
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub string
        c: { 'Fn::Sub': 'arn:${AWS::Partition}:x:${AWS::AccountId}:${Fn}' },
        d: { 'Fn::Select': [1, { 'Fn::Split': [':', 'a:b:c'] }] },
      }),
    ).toEqual({
      a: 'arn:aws:lambda:eu-west-1:123456789012:function:piko-fn',
      b: 'eu-west-1-piko-fn',
      c: 'arn:aws:x:123456789012:piko-fn',
      d: 'b',
    });
  });

  it('fails loudly on a token it has no stand-in for', () => {
    expect(() => resolver.resolve({ Ref: 'Odd' })).toThrow(
      'no stand-in for Ref of AWS::Some::Thing "Odd"; add one to test/artifacts/support/cfn-resolver.ts',
    );
    expect(() => resolver.resolve({ 'Fn::GetAtt': ['Fn', 'Version'] })).toThrow(
      'no stand-in for Fn::GetAtt Version of AWS::Lambda::Function "Fn"; add one to test/artifacts/support/cfn-resolver.ts',
    );
    expect(() => resolver.resolve({ 'Fn::ImportValue': 'x' })).toThrow(
      'no stand-in for Fn::ImportValue; add it to test/artifacts/support/cfn-resolver.ts',
    );
    expect(() => resolver.resolve({ Ref: 'Missing' })).toThrow('no resource "Missing" in the template');
  });
});
