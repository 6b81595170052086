/**
 * The Fargate stage image's expected size, without Docker: the build context `infra/container-image.ts`
 * writes (everything the Dockerfile copies; it installs nothing), the bundle's largest packages from
 * esbuild's metafile, and whether aws-cdk-lib or better-sqlite3 reached the bundle. The image adds the
 * compressed base layer (`node:24.20.0-trixie-slim`, about 81 MB for linux/amd64 on Docker Hub).
 *
 * Run: npx tsx bench/container-image.ts
 * Last line: {"bench":"container-image","context_bytes":…,"bundle_bytes":…,"map_bytes":…,"aws_cdk_lib":false,…}
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildStageImageContext, STAGE_BUNDLE_FILE } from '../infra/container-image.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'piko-bench-stage-image-'));
try {
  const { metafile } = buildStageImageContext(dir);
  const contextBytes = Number(spawnSync('du', ['-sb', dir], { encoding: 'utf8' }).stdout.split('\t')[0]);
  const [output] = Object.values(metafile.outputs).filter((entry) => entry.entryPoint);
  const byPackage = new Map<string, number>();
  for (const [input, { bytesInOutput }] of Object.entries(output?.inputs ?? {})) {
    const name = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1] ?? '(piko)';
    byPackage.set(name, (byPackage.get(name) ?? 0) + bytesInOutput);
  }
  const inputs = Object.keys(metafile.inputs);
  const largest = [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 6);
  for (const [name, bytes] of largest) console.log(`${name.padEnd(28)} ${bytes.toLocaleString('en')} B`);
  console.log(
    JSON.stringify({
      bench: 'container-image',
      context_bytes: contextBytes,
      bundle_bytes: statSync(path.join(dir, STAGE_BUNDLE_FILE)).size,
      map_bytes: statSync(path.join(dir, `${STAGE_BUNDLE_FILE}.map`)).size,
      aws_cdk_lib: inputs.some((input) => input.includes('node_modules/aws-cdk-lib/')),
      better_sqlite3: inputs.some((input) => input.includes('node_modules/better-sqlite3/')),
      largest: Object.fromEntries(largest),
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
