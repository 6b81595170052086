/**
 * A Lambda-like sandbox for one function of the synthesized app: its asset folder copied into an
 * empty temporary folder outside the repository (`<sandbox>/task`, Lambda's `/var/task`), beside a
 * `node_modules` holding only what the Lambda runtime provides ({@link LAMBDA_RUNTIME_MODULES}), run
 * by Node 24 in a child process that imports the handler as the runtime does (`import()` of the
 * handler file) and calls it with `(event, context)`.
 *
 * The process stays warm between invocations, as a Lambda container does; an init error, a timeout
 * or a crash ends it and the next invocation starts a cold one. Invocations go in on the child's
 * stdin and results come back on its fd 3, one JSON object a line, so the function's own stdout and
 * stderr stay its logs (CloudWatch's, here {@link LambdaSandbox.logs}).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { TEST_REGION } from './cfn-resolver.ts';
import { lambdaNodeBinary } from './lambda-node.ts';
import type { LambdaArtifact } from './synth.ts';

/**
 * Packages the sandbox's `node_modules` holds: what the Lambda runtime is documented to provide to
 * every function. None: the runtime's bundled AWS SDK is the Lambda team's choice and changes without
 * notice (FACTS.md), so the bundles must carry what they import.
 */
export const LAMBDA_RUNTIME_MODULES: readonly string[] = [];

/** Lambda's limit on a synchronous invocation's response. */
export const MAX_RESPONSE_BYTES = 6 * 1024 * 1024;

/** AWS credentials a sandbox signs with: fixed test values, one access key per principal. */
export interface TestCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
}

/** How to run one function. */
export interface LambdaSandboxOptions {
  /** The function's environment (the template's, resolved: `SynthesizedApp.environmentOf`). */
  readonly environment: Readonly<Record<string, string>>;
  /** The function's physical name (`AWS_LAMBDA_FUNCTION_NAME`). */
  readonly functionName: string;
  /** The ARN the context reports as `invokedFunctionArn`. */
  readonly functionArn: string;
  readonly credentials: TestCredentials;
  /** The test CA, trusted through `NODE_EXTRA_CA_CERTS`. */
  readonly caFile: string;
  /**
   * Local endpoints by SDK service id (`SFN`, `LAMBDA`): `AWS_ENDPOINT_URL_<ID>`, which the AWS SDK for
   * JavaScript v3 honours for that service's clients. @default {}
   */
  readonly endpoints?: Readonly<Record<string, string>>;
  /**
   * Host names the sandbox resolves to local addresses, as the VPC's DNS resolves the proxy endpoint
   * (`dns.lookup`, which `net.connect` uses). @default {}
   */
  readonly hosts?: Readonly<Record<string, string>>;
  /** `AWS_ENDPOINT_URL`: where SDK clients of every other service go. @default - none (AWS itself) */
  readonly globalEndpoint?: string;
  /** @default TEST_REGION */
  readonly region?: string;
  /** Overrides the template's timeout. @default the function's `Timeout` */
  readonly timeoutSeconds?: number;
  /** The Node binary that runs the function. @default lambdaNodeBinary() (Node 24) */
  readonly node?: string;
}

/** What an invocation returned: the handler's result, or the error as Lambda reports it. */
export type InvokeResult =
  | { readonly ok: true; readonly payload: unknown }
  | { readonly ok: false; readonly error: LambdaFunctionError };

/** A function error, as Lambda reports it (`FunctionError` payload). */
export interface LambdaFunctionError {
  readonly errorType: string;
  readonly errorMessage: string;
  readonly trace?: readonly string[];
}

/** A warm function. */
export interface LambdaSandbox {
  /** The sandbox folder (`task/` holds the code). */
  readonly dir: string;
  readonly functionName: string;
  readonly functionArn: string;
  readonly credentials: TestCredentials;
  /**
   * Invokes the function once (RequestResponse); invocations run one at a time, as in one container.
   * `timeoutSeconds` overrides the function's timeout for this invocation. Rejects (rather than
   * answering a function error) when the sandbox's process cannot be run at all (a spawn error).
   */
  invoke(event: unknown, options?: { readonly timeoutSeconds?: number }): Promise<InvokeResult>;
  /** Invokes and returns the payload. @throws Error with the function error's type and message. */
  invokeOk(event: unknown): Promise<unknown>;
  /** Everything the function wrote to stdout and stderr so far. */
  logs(): string;
  /** Cold starts so far. */
  coldStarts(): number;
  /** Stops the process and removes the folder. */
  close(): Promise<void>;
}

/** The runtime's side of the protocol: imports the handler, then answers invocations. */
const BOOTSTRAP = String.raw`
import dns from 'node:dns';
import { createWriteStream, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { types } from 'node:util';

const [handlerFile, exportName, handlerName] = process.argv.slice(2);

// The VPC's DNS: the stack's private host names resolve to local addresses; everything else as usual.
const hosts = JSON.parse(readFileSync(new URL('./hosts.json', import.meta.url), 'utf8'));
const systemLookup = dns.lookup;
dns.lookup = function lookup(hostname, options, callback) {
  if (typeof options === 'function') [callback, options] = [options, {}];
  if (typeof options === 'number') options = { family: options };
  const address = hosts[String(hostname).toLowerCase()];
  if (address === undefined) return systemLookup.call(dns, hostname, options, callback);
  const family = address.includes(':') ? 6 : 4;
  process.nextTick(() =>
    options && options.all ? callback(null, [{ address, family }]) : callback(null, address, family),
  );
};
const results = createWriteStream(null, { fd: 3 });
const send = (message) => results.write(JSON.stringify(message) + '\n');
let current;

function toRapidResponse(error) {
  if (types.isNativeError(error) || (error && typeof error === 'object' && 'message' in error)) {
    return {
      errorType: String(error.name ?? 'Error'),
      errorMessage: String(error.message ?? ''),
      trace: String(error.stack ?? '').split('\n'),
    };
  }
  return { errorType: typeof error, errorMessage: String(error), trace: [] };
}

function initError(error) {
  const code = error && error.code;
  if (code === 'ERR_MODULE_NOT_FOUND' || code === 'ERR_REQUIRE_ESM' || code === 'MODULE_NOT_FOUND') {
    return { errorType: 'Runtime.ImportModuleError', errorMessage: error.name + ': ' + error.message, trace: String(error.stack ?? '').split('\n') };
  }
  if (error instanceof SyntaxError) {
    return { errorType: 'Runtime.UserCodeSyntaxError', errorMessage: error.name + ': ' + error.message, trace: String(error.stack ?? '').split('\n') };
  }
  return toRapidResponse(error);
}

process.on('unhandledRejection', (reason) => {
  const error = toRapidResponse(reason);
  send({ id: current, ok: false, fatal: true, error: { ...error, errorType: 'Runtime.UnhandledPromiseRejection', errorMessage: error.errorType + ': ' + error.errorMessage } });
  process.exitCode = 128;
  results.end(() => process.exit(128));
});

let handler;
try {
  const module = await import(pathToFileURL(handlerFile).href);
  handler = module[exportName];
  if (typeof handler !== 'function') {
    send({ init: false, error: { errorType: 'Runtime.HandlerNotFound', errorMessage: handlerName + ' is undefined or not exported' } });
    results.end(() => process.exit(1));
  }
} catch (error) {
  send({ init: false, error: initError(error) });
  results.end(() => process.exit(1));
}
if (typeof handler === 'function') {
  send({ init: true });
  for await (const line of createInterface({ input: process.stdin })) {
    const request = JSON.parse(line);
    current = request.id;
    const context = {
      functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
      functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
      invokedFunctionArn: request.invokedFunctionArn,
      memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
      awsRequestId: request.requestId,
      logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
      logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => Math.max(0, request.deadlineMs - Date.now()),
    };
    try {
      const payload = await handler(request.event, context);
      send({ id: request.id, ok: true, payload: JSON.stringify(payload ?? null) });
    } catch (error) {
      send({ id: request.id, ok: false, error: toRapidResponse(error) });
    }
  }
}
`;

/**
 * Copies `fn`'s asset into a fresh sandbox and starts it (the first invocation is a cold start).
 * @throws when the asset folder is missing or Node 24 cannot be installed.
 */
export async function openLambdaSandbox(
  fn: LambdaArtifact,
  options: LambdaSandboxOptions,
): Promise<LambdaSandbox> {
  const node = options.node ?? (await lambdaNodeBinary());
  const dir = mkdtempSync(path.join(tmpdir(), `piko-lambda-${fn.logicalId.slice(0, 24)}-`));
  const task = path.join(dir, 'task');
  cpSync(fn.assetDir, task, { recursive: true });
  // Only what the runtime provides; never the repository's node_modules.
  mkdirSync(path.join(dir, 'node_modules'));
  if (LAMBDA_RUNTIME_MODULES.length > 0) {
    throw new Error('LAMBDA_RUNTIME_MODULES is not empty: install those packages into the sandbox here');
  }
  mkdirSync(path.join(dir, 'runtime'));
  const bootstrap = path.join(dir, 'runtime', 'bootstrap.mjs');
  writeFileSync(bootstrap, BOOTSTRAP);
  writeFileSync(
    path.join(dir, 'runtime', 'hosts.json'),
    JSON.stringify(
      Object.fromEntries(Object.entries(options.hosts ?? {}).map(([name, ip]) => [name.toLowerCase(), ip])),
    ),
  );
  const [moduleName, exportName] = splitHandler(fn.handler);
  // As the Node.js runtime does: <file>.js, .mjs or .cjs.
  const found = ['.js', '.mjs', '.cjs']
    .map((extension) => path.join(task, `${moduleName}${extension}`))
    .find((file) => existsSync(file));
  if (!found) throw new Error(`${fn.logicalId}: no ${moduleName}.js, .mjs or .cjs in ${fn.assetDir}`);
  const handlerFile: string = found;
  // Node resolves packages up the tree: a stray node_modules above the sandbox would leak in.
  for (const stray of ['/tmp/node_modules', '/node_modules']) {
    if (existsSync(stray))
      throw new Error(`${stray} exists: the sandbox would resolve packages from it; remove it`);
  }
  const region = options.region ?? TEST_REGION;
  const defaultTimeoutMs = (options.timeoutSeconds ?? fn.timeoutSeconds) * 1000;

  const env: Record<string, string> = {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    LANG: 'en_US.UTF-8',
    TZ: ':UTC',
    LAMBDA_TASK_ROOT: task,
    LAMBDA_RUNTIME_DIR: path.dirname(bootstrap),
    AWS_EXECUTION_ENV: `AWS_Lambda_${fn.runtime}`,
    AWS_LAMBDA_FUNCTION_NAME: options.functionName,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMiB),
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${options.functionName}`,
    AWS_LAMBDA_LOG_STREAM_NAME: `2026/12/01/[$LATEST]${randomUUID().replaceAll('-', '')}`,
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_ACCESS_KEY_ID: options.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: options.credentials.secretAccessKey,
    AWS_SESSION_TOKEN: options.credentials.sessionToken,
    NODE_EXTRA_CA_CERTS: options.caFile,
    ...(options.globalEndpoint ? { AWS_ENDPOINT_URL: options.globalEndpoint } : {}),
    ...Object.fromEntries(
      Object.entries(options.endpoints ?? {}).map(([service, url]) => [`AWS_ENDPOINT_URL_${service}`, url]),
    ),
    ...options.environment,
  };

  let logs = '';
  let coldStarts = 0;
  let nextId = 1;
  let process: Warm | undefined;
  let queue: Promise<unknown> = Promise.resolve();

  /** An invocation waiting for its result: resolved with it, rejected when the process cannot run. */
  interface Pending {
    readonly resolve: (result: InvokeResult) => void;
    readonly reject: (error: Error) => void;
  }

  interface Warm {
    readonly child: ChildProcess;
    /** An init error; rejects when the process could not be started. */
    readonly ready: Promise<LambdaFunctionError | undefined>;
    readonly pending: Map<number, Pending>;
    exited: boolean;
  }

  function start(): Warm {
    coldStarts++;
    const child = spawn(node, [bootstrap, handlerFile, exportName, fn.handler], {
      cwd: task,
      env,
      stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (chunk: Buffer) => {
      logs += chunk.toString();
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      logs += chunk.toString();
    });
    const pending = new Map<number, Pending>();
    const warm: Warm = { child, pending, exited: false, ready: undefined as never };
    let settleReady: (error: LambdaFunctionError | undefined) => void = () => {};
    let failReady: (error: Error) => void = () => {};
    (warm as { ready: Promise<LambdaFunctionError | undefined> }).ready = new Promise((resolve, reject) => {
      settleReady = resolve;
      failReady = reject;
    });
    // Awaited by the invocation that started the process; never an unhandled rejection.
    warm.ready.catch(() => undefined);
    // The process could not be spawned (binary gone, not executable): every waiting invocation fails
    // with that error, instead of waiting for a result that never comes.
    child.on('error', (cause) => {
      warm.exited = true;
      const error = new Error(`Lambda sandbox of ${fn.logicalId}: cannot run ${node}: ${cause.message}`, {
        cause,
      });
      failReady(error);
      for (const [id, waiting] of pending) {
        pending.delete(id);
        waiting.reject(error);
      }
    });
    // Writes to a process that never started fail with EPIPE: reported by the 'error' handler above.
    child.stdin!.on('error', () => undefined);
    const results = child.stdio[3] as NodeJS.ReadableStream;
    createInterface({ input: results }).on('line', (line) => {
      const message = JSON.parse(line) as {
        init?: boolean;
        id?: number;
        ok?: boolean;
        payload?: string;
        error?: LambdaFunctionError;
      };
      if (message.init !== undefined) {
        settleReady(message.init ? undefined : message.error);
        return;
      }
      const waiting = message.id === undefined ? undefined : pending.get(message.id);
      if (!waiting || message.id === undefined) return;
      const { resolve } = waiting;
      pending.delete(message.id);
      if (message.ok) {
        const text = message.payload ?? 'null';
        resolve(
          Buffer.byteLength(text) > MAX_RESPONSE_BYTES
            ? {
                ok: false,
                error: {
                  errorType: 'Function.ResponseSizeTooLarge',
                  errorMessage: `Response payload size exceeded maximum allowed payload size (${MAX_RESPONSE_BYTES} bytes).`,
                },
              }
            : { ok: true, payload: JSON.parse(text) },
        );
      } else {
        resolve({ ok: false, error: message.error! });
      }
    });
    child.on('exit', (code, signal) => {
      warm.exited = true;
      settleReady({
        errorType: 'Runtime.ExitError',
        errorMessage: `RequestId: init Error: Runtime exited with error: ${signal ? `signal: ${signal}` : `exit status ${code}`}`,
      });
      for (const [id, waiting] of pending) {
        pending.delete(id);
        waiting.resolve({
          ok: false,
          error: {
            errorType: 'Runtime.ExitError',
            errorMessage: `Runtime exited with error: ${signal ? `signal: ${signal}` : `exit status ${code}`}`,
          },
        });
      }
    });
    return warm;
  }

  async function invokeOnce(event: unknown, timeoutMs: number): Promise<InvokeResult> {
    if (!process || process.exited) process = start();
    const warm = process;
    let initError: LambdaFunctionError | undefined;
    try {
      initError = await warm.ready;
    } finally {
      if (warm.exited) process = undefined;
    }
    if (initError) {
      process = undefined;
      return { ok: false, error: initError };
    }
    const id = nextId++;
    const result = new Promise<InvokeResult>((resolve, reject) => warm.pending.set(id, { resolve, reject }));
    const deadlineMs = Date.now() + timeoutMs;
    warm.child.stdin!.write(
      `${JSON.stringify({ id, event, requestId: randomUUID(), invokedFunctionArn: options.functionArn, deadlineMs })}\n`,
    );
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<InvokeResult>((resolve) => {
      timer = setTimeout(() => {
        warm.pending.delete(id);
        warm.child.kill('SIGKILL');
        process = undefined;
        resolve({
          ok: false,
          error: {
            errorType: 'Sandbox.Timedout',
            errorMessage: `Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`,
          },
        });
      }, timeoutMs);
    });
    try {
      return await Promise.race([result, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  const sandbox: LambdaSandbox = {
    dir,
    functionName: options.functionName,
    functionArn: options.functionArn,
    credentials: options.credentials,
    invoke(event, invokeOptions = {}) {
      const timeoutMs =
        invokeOptions.timeoutSeconds === undefined ? defaultTimeoutMs : invokeOptions.timeoutSeconds * 1000;
      const run = queue.then(() => invokeOnce(event, timeoutMs));
      queue = run.catch(() => undefined);
      return run;
    },
    async invokeOk(event) {
      const result = await sandbox.invoke(event);
      if (!result.ok) {
        const error = new Error(`${result.error.errorType}: ${result.error.errorMessage}`);
        error.name = result.error.errorType;
        throw error;
      }
      return result.payload;
    },
    logs: () => logs,
    coldStarts: () => coldStarts,
    async close() {
      const warm = process;
      process = undefined;
      if (warm && !warm.exited) {
        const exited = new Promise((resolve) => warm.child.once('exit', resolve));
        warm.child.kill('SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return sandbox;
}

function splitHandler(handler: string): [string, string] {
  const dot = handler.lastIndexOf('.');
  if (dot <= 0) throw new Error(`handler "${handler}" is not <file>.<export>`);
  return [handler.slice(0, dot), handler.slice(dot + 1)];
}
