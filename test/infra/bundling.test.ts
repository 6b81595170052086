import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { App, Stack } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../infra/bundling.ts';
import { PikoFunction } from '../../infra/constructs/piko-function.ts';

// The one test that bundles (FACTS.md): under node_modules so bundles resolve @aws-sdk/* as in Lambda.
const outdir = path.join(PROJECT_ROOT, 'node_modules', '.cache', 'piko-test', 'bundling');
const ENTRIES = ['functions/dispatcher.ts', 'functions/stage-runner.ts', 'functions/migrate.ts'];
const bundles = new Map<string, string>();

beforeAll(() => {
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  for (const entry of ENTRIES) {
    const app = new App({ outdir: path.join(outdir, path.basename(entry, '.ts')) });
    // As the stack bundles them: the dispatcher and the migrations handler without the RDS CAs.
    new PikoFunction(new Stack(app, 'Bundle'), 'Function', { entry, rdsCaBundle: entry === ENTRIES[1] });
    app.synth();
    const [asset] = readdirSync(app.outdir).filter((name) => name.startsWith('asset.'));
    bundles.set(entry, path.join(app.outdir, asset!, 'index.mjs'));
  }
}, 120_000);
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

describe('Lambda bundles', () => {
  it.each(ENTRIES)('%s is minified ESM with a source map, the AWS SDK left to the runtime', (entry) => {
    const file = bundles.get(entry)!;
    const code = readFileSync(file, 'utf8');
    expect(readdirSync(path.dirname(file)).sort()).toEqual(['index.mjs', 'index.mjs.map']);
    expect(code).toMatch(/^import\{createRequire as __pikoCreateRequire\}from'node:module';/);
    expect(code).toMatch(/\/\/# sourceMappingURL=index\.mjs\.map\s*$/);
    // Minified: the handler's own identifiers are gone.
    expect(code).not.toContain('openStoreOnce');
    expect(code).not.toContain('aws-cdk-lib');
    // iconv-lite's code pages stay out (infra/shims/iconv-lite.cjs stands in).
    expect(code).not.toContain('windows1252');
  });

  it('leaves the RDS CA certificates out where the store connects with Node’s CAs', () => {
    const has = (entry: string) => readFileSync(bundles.get(entry)!, 'utf8').includes('BEGIN CERTIFICATE');
    expect([has(ENTRIES[0]!), has(ENTRIES[1]!), has(ENTRIES[2]!)]).toEqual([false, true, false]);
  });

  it.each(ENTRIES)('%s loads in a fresh node with the environment the stack sets', (entry) => {
    const result = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const m = await import(${JSON.stringify(pathToFileURL(bundles.get(entry)!).href)}); if (typeof m.handler !== 'function') throw new Error('no handler');`,
      ],
      {
        env: {
          PATH: process.env.PATH,
          AWS_REGION: 'eu-west-1',
          AWS_LAMBDA_FUNCTION_NAME: 'test',
          PIKO_MYSQL__DSN: 'mysql://piko_admin@proxy.invalid:3306/piko',
          PIKO_MYSQL__IAM_AUTH: 'true',
          PIKO_AWS__STACK_NAME: 'Piko',
          PIKO_DATA_DIR: '/tmp/piko',
        },
        encoding: 'utf8',
      },
    );
    expect(result.stderr.replace(/\(node:\d+\) Warning: NodeVersionSupportWarning[\s\S]*$/, '').trim()).toBe(
      '',
    );
    expect(result.status).toBe(0);
  });
});
