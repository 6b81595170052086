/**
 * The synthesized stack, stood up locally for one test file: the app synthesized once per run, a
 * test CA, a private TLS-only MariaDB with the state database and user of the template, the IAM
 * proxy at the address the template's proxy endpoint resolves to, a local Step Functions endpoint,
 * and Lambda sandboxes of the template's functions wired to all of them with the template's own
 * environment. Every AWS call a sandbox makes is recorded in {@link ArtifactStack.identities}.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { STATE_DATABASE_NAME, STATE_DATABASE_USER } from '../../../infra/constructs/state-database.ts';
import { type S3Endpoint, startS3Endpoint } from '../../helpers/s3-endpoint.ts';
import { AwsIdentities, type AwsPrincipal } from './aws-identities.ts';
import { type CfnResolver, TEST_REGION } from './cfn-resolver.ts';
import { type IamProxy, startIamProxyOnFreeLoopback } from './iam-proxy.ts';
import { type LambdaSandbox, openLambdaSandbox } from './lambda-sandbox.ts';
import { type RecordingEcsEndpoint, startRecordingEcsEndpoint } from './recording-ecs-endpoint.ts';
import {
  type LocalEndpoint,
  startCatchAllEndpoint,
  startRecordingSfnEndpoint,
  type UnexpectedAwsCall,
} from './recording-sfn-endpoint.ts';
import { type LambdaArtifact, type SynthesizedApp, synthesizedApp } from './synth.ts';
import { createTestCa, issueServerCertificate, type ServerCertificate, type TestCa } from './test-ca.ts';
import { startTlsMariaDb, type TlsMariaDb } from './tls-mariadb.ts';

/** What a custom endpoint factory gets (see {@link ArtifactStackOptions.sfnEndpoint}). */
export interface EndpointContext {
  readonly app: SynthesizedApp;
  readonly resolver: CfnResolver;
  readonly identities: AwsIdentities;
  /** The job state machines of the template (ARNs). */
  readonly stateMachineArns: readonly string[];
}

/** Options of {@link startArtifactStack}. */
export interface ArtifactStackOptions<S extends LocalEndpoint> {
  /**
   * The synthesized app to stand up (another project's, `readSynthesizedApp(outdir, stackName)`).
   * @default this repository's app, synthesized once per run (`synthesizedApp()`)
   */
  readonly app?: SynthesizedApp;
  /**
   * Makes the resolver of the app's tokens, given the host the proxy endpoint must resolve to.
   * @default `app.resolver({ proxyEndpoint })` (`cfn-resolver.ts`)
   */
  readonly resolver?: (app: SynthesizedApp, standIns: { readonly proxyEndpoint: string }) => CfnResolver;
  /**
   * The certificate the IAM proxy presents, given its endpoint name. @default one of the test CA for
   * the endpoint name (what the functions connect to)
   */
  readonly proxyCertificate?: (ca: TestCa, host: string) => ServerCertificate;
  /**
   * Starts the Step Functions endpoint the sandboxes' SFN clients reach (`AWS_ENDPOINT_URL_SFN`).
   * @default a recording endpoint (`recording-sfn-endpoint.ts`) that starts nothing
   */
  readonly sfnEndpoint?: (context: EndpointContext) => Promise<S>;
}

/** Options of {@link ArtifactStack.openFunction}. */
export interface OpenFunctionOptions {
  /** Overrides the template's timeout. @default the function's */
  readonly timeoutSeconds?: number;
  /** Another principal name, for a second warm container of the same function. @default the logical id */
  readonly instance?: string;
}

/** The local stand-up of the synthesized stack. */
export interface ArtifactStack<S extends LocalEndpoint = LocalEndpoint> {
  readonly app: SynthesizedApp;
  /** Resolves the template's tokens to this stack's stand-ins. */
  readonly resolver: CfnResolver;
  readonly ca: TestCa;
  readonly db: TlsMariaDb;
  readonly proxy: IamProxy;
  readonly sfn: S;
  /** The S3 endpoint standing in for the job-outputs bucket (`AWS_ENDPOINT_URL_S3`). */
  readonly s3: S3Endpoint;
  /** The ECS endpoint for the template's clusters (`AWS_ENDPOINT_URL_ECS`): StopTask, recorded. */
  readonly ecs: RecordingEcsEndpoint;
  /** Host names the sandboxes resolve locally (the proxy endpoint → its loopback address). */
  readonly hosts: Readonly<Record<string, string>>;
  /** Test credentials per function, and every AWS call made so far. */
  readonly identities: AwsIdentities;
  /** The function under `<stack>/<prefix>` (`Dispatcher`, `Migrations/Handler`, `JobFunctions/store_totals`). */
  lambda(prefix: string): LambdaArtifact;
  /** The principal a function's sandboxes sign as. */
  principalOf(fn: LambdaArtifact, instance?: string): AwsPrincipal;
  /** A warm sandbox of the function under `<stack>/<prefix>`, closed by {@link ArtifactStack.stop}. */
  openFunction(prefix: string, options?: OpenFunctionOptions): Promise<LambdaSandbox>;
  /**
   * Requests the sandboxes sent to services no local endpoint stands in for (`AWS_ENDPOINT_URL`
   * points them at a catch-all that refuses them): a flow that expects none asserts this is empty.
   */
  unexpectedCalls(): readonly UnexpectedAwsCall[];
  /** Runs SQL in the state database as root (over the socket: not through the proxy). */
  query<T = unknown>(sql: string, values?: unknown[]): Promise<T>;
  /** Stops every sandbox and server. */
  stop(): Promise<void>;
}

/** Stands the stack up. */
export async function startArtifactStack<S extends LocalEndpoint = LocalEndpoint>(
  options: ArtifactStackOptions<S> = {},
): Promise<ArtifactStack<S>> {
  const app = options.app ?? (await synthesizedApp());
  const makeResolver = options.resolver ?? ((synthesized, standIns) => synthesized.resolver(standIns));
  const cleanups: (() => Promise<void> | void)[] = [];
  const stop = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    cleanups.length = 0;
  };
  try {
    const caDir = mkdtempSync(path.join(tmpdir(), 'piko-artifact-ca-'));
    cleanups.push(() => rmSync(caDir, { recursive: true, force: true }));
    const ca = createTestCa(caDir);
    const backendUser = { user: STATE_DATABASE_USER, password: randomBytes(12).toString('hex') };
    const db = await startTlsMariaDb({ ca, users: [backendUser], databases: [STATE_DATABASE_NAME] });
    cleanups.push(() => db.stop());

    const [proxyLogicalId] = app.resourcesOfType('AWS::RDS::DBProxy').map(([id]) => id);
    if (!proxyLogicalId) throw new Error('the template has no AWS::RDS::DBProxy');
    // The proxy's ARN does not depend on its endpoint: learn its resource id first.
    const proxyArn = makeResolver(app, { proxyEndpoint: 'unused' }).getAtt(proxyLogicalId, 'DBProxyArn');
    const proxyResourceId = proxyArn.split(':')[6]!;
    // A real-shaped endpoint name, resolved to the proxy's loopback address inside the sandboxes
    // (`hosts`): the functions connect by name, with SNI and the certificate's name checked, as on AWS.
    const proxyName = makeResolver(app, { proxyEndpoint: 'unused' }).ref(proxyLogicalId);
    const proxyEndpoint = `${proxyName}.proxy-${proxyResourceId.slice(4, 16)}.${TEST_REGION}.rds.amazonaws.com`;
    const identities = new AwsIdentities();
    const proxy = await startIamProxyOnFreeLoopback({
      endpoint: proxyEndpoint,
      certificateFor: (host) =>
        options.proxyCertificate?.(ca, host) ?? issueServerCertificate(ca, 'rds-proxy', [host]),
      region: TEST_REGION,
      proxyResourceId,
      backend: { host: db.host, port: db.port, ca: ca.cert, users: [backendUser] },
      identities,
    });
    cleanups.push(() => proxy.close());
    const resolver = makeResolver(app, { proxyEndpoint });
    const hosts = { [proxyEndpoint]: proxy.host };

    const stateMachineArns = app
      .resourcesOfType('AWS::StepFunctions::StateMachine')
      .map(([logicalId]) => resolver.ref(logicalId));
    const sfn = options.sfnEndpoint
      ? await options.sfnEndpoint({ app, resolver, identities, stateMachineArns })
      : ((await startRecordingSfnEndpoint({ identities, stateMachineArns })) as unknown as S);
    cleanups.push(() => sfn.close());
    // The job-outputs bucket (objectStore()), when the template has one: S3's REST protocol, each
    // request recorded for the IAM simulation as the action S3 authorises it under.
    const [bucketLogicalId] = app.resourcesOfType('AWS::S3::Bucket').map(([id]) => id);
    const bucket = bucketLogicalId ? resolver.ref(bucketLogicalId) : 'piko-no-job-outputs';
    const s3 = await startS3Endpoint({
      bucket,
      region: TEST_REGION,
      onRequest: (request) => {
        const accessKeyId = /Credential=([A-Z0-9]+)\//.exec(request.headers.authorization ?? '')?.[1] ?? '';
        const action = request.operation === 'PutObject' ? 's3:PutObject' : 's3:GetObject';
        identities.record({ action, resource: `arn:aws:s3:::${request.bucket}/${request.key}`, accessKeyId });
      },
    });
    cleanups.push(() => s3.close());
    const ecs = await startRecordingEcsEndpoint({
      identities,
      clusterArns: app.resourcesOfType('AWS::ECS::Cluster').map(([id]) => resolver.getAtt(id, 'Arn')),
    });
    cleanups.push(() => ecs.close());
    const catchAll = await startCatchAllEndpoint();
    cleanups.push(() => catchAll.close());

    const principalOf = (fn: LambdaArtifact, instance?: string) =>
      identities.principal(
        instance ?? fn.logicalId,
        fn.roleLogicalId,
        resolver.getAtt(fn.roleLogicalId, 'Arn'),
      );

    return {
      app,
      resolver,
      ca,
      db,
      proxy,
      sfn,
      s3,
      ecs,
      hosts,
      identities,
      lambda: (prefix) => app.lambda(prefix),
      principalOf,
      unexpectedCalls: () => catchAll.calls(),
      async openFunction(prefix, openOptions = {}) {
        const fn = app.lambda(prefix);
        const principal = principalOf(fn, openOptions.instance);
        const sandbox = await openLambdaSandbox(fn, {
          environment: app.environmentOf(fn, resolver),
          functionName: resolver.ref(fn.logicalId),
          functionArn: resolver.getAtt(fn.logicalId, 'Arn'),
          credentials: principal.credentials,
          caFile: ca.certFile,
          // Every other service goes to the catch-all (the SDK's global endpoint setting).
          endpoints: { SFN: sfn.url, S3: s3.url, ECS: ecs.url },
          globalEndpoint: catchAll.url,
          hosts,
          timeoutSeconds: openOptions.timeoutSeconds,
        });
        cleanups.push(() => sandbox.close());
        return sandbox;
      },
      async query<T>(sql: string, values?: unknown[]) {
        const connection = await db.rootConnection(STATE_DATABASE_NAME);
        try {
          const [rows] = await connection.query(sql, values);
          return rows as T;
        } finally {
          await connection.end();
        }
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
