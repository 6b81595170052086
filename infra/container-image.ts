/**
 * The Fargate stage image, built from a bundle as the Lambdas are: at synth, esbuild bundles
 * `functions/container/bundle-entry.ts` with the Lambda bundling options into a build context that
 * holds the bundle, its source map and the Dockerfile, nothing else; `cdk deploy` builds the image.
 */
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Stack, Stage } from 'aws-cdk-lib';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { type BundlingOptions, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Construct } from 'constructs';
import { type BuildOptions, buildSync, type Metafile } from 'esbuild';
import { LAMBDA_BUNDLING, PROJECT_ROOT } from './bundling.ts';

/** The CPU architecture of Fargate stages: the task definitions and the image platform both follow it. */
export const STAGE_CPU_ARCHITECTURE = ecs.CpuArchitecture.X86_64;

/** The image entry, relative to the project root. */
export const STAGE_IMAGE_ENTRY = 'functions/container/bundle-entry.ts';

/** The Dockerfile copied into the build context. */
export const STAGE_DOCKERFILE = path.join(PROJECT_ROOT, 'functions', 'container', 'Dockerfile');

/** The bundle's file name in the build context (the Dockerfile's `CMD` runs it). */
export const STAGE_BUNDLE_FILE = 'main.mjs';

/** The image platform that runs on `architecture`. */
export function imagePlatformFor(architecture: ecs.CpuArchitecture): Platform {
  if (architecture === ecs.CpuArchitecture.ARM64) return Platform.LINUX_ARM64;
  if (architecture === ecs.CpuArchitecture.X86_64) return Platform.LINUX_AMD64;
  throw new Error(
    `No image platform for CPU architecture ${JSON.stringify(architecture)}: use X86_64 or ARM64`,
  );
}

/** The options {@link esbuildOptionsFor} translates; any other bundling option is refused. */
const TRANSLATED: ReadonlySet<string> = new Set([
  'format',
  'target',
  'minify',
  'keepNames',
  'sourceMap',
  'sourcesContent',
  // Both only choose what is left to the Lambda runtime: an image bundles everything.
  'externalModules',
  'bundleAwsSDK',
  'mainFields',
  'banner',
  'footer',
  'define',
  'loader',
  'charset',
  'inject',
  'esbuildArgs',
]);

/**
 * The esbuild options equivalent to the Lambda bundling options, for bundles built outside
 * NodejsFunction. Modules the Lambda runtime provides (`externalModules`) are bundled, since an image
 * provides none. Options without an equivalent here are refused, all listed at once, so a new Lambda
 * option cannot be dropped silently from the container.
 * @throws Error naming every untranslated option or esbuild argument.
 */
export function esbuildOptionsFor(bundling: BundlingOptions): BuildOptions {
  const problems = Object.keys(bundling)
    .filter((key) => !TRANSLATED.has(key) && bundling[key as keyof BundlingOptions] !== undefined)
    .map((key) => `bundling option "${key}" has no container equivalent in infra/container-image.ts`);
  const alias: Record<string, string> = {};
  let keepNames = bundling.keepNames;
  for (const [argument, value] of Object.entries(bundling.esbuildArgs ?? {})) {
    if (argument.startsWith('--alias:') && typeof value === 'string') alias[argument.slice(8)] = value;
    else if (argument === '--keep-names' && value !== false) keepNames = true;
    else
      problems.push(`esbuild argument "${argument}" has no container equivalent in infra/container-image.ts`);
  }
  if (problems.length > 0) throw new Error(`Cannot bundle the stage image:\n- ${problems.join('\n- ')}`);
  return {
    bundle: true,
    platform: 'node',
    format: bundling.format === OutputFormat.CJS ? 'cjs' : 'esm',
    target: bundling.target,
    minify: bundling.minify,
    keepNames,
    sourcemap: bundling.sourceMap ? 'linked' : false,
    sourcesContent: bundling.sourcesContent,
    mainFields: bundling.mainFields,
    banner: bundling.banner === undefined ? undefined : { js: bundling.banner },
    footer: bundling.footer === undefined ? undefined : { js: bundling.footer },
    define: bundling.define,
    loader: bundling.loader as BuildOptions['loader'],
    charset: bundling.charset,
    inject: bundling.inject,
    alias,
  };
}

/** What {@link buildStageImageContext} wrote. */
export interface StageImageContext {
  /** The build context folder. */
  readonly dir: string;
  /** esbuild's metafile of the bundle: every input it holds. */
  readonly metafile: Metafile;
}

/**
 * Writes the stage image's build context into `dir` (emptied first): the bundle of
 * {@link STAGE_IMAGE_ENTRY}, its source map and the Dockerfile.
 */
export function buildStageImageContext(dir: string): StageImageContext {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const options = esbuildOptionsFor(LAMBDA_BUNDLING);
  const result = buildSync({
    ...options,
    absWorkingDir: PROJECT_ROOT,
    entryPoints: [STAGE_IMAGE_ENTRY],
    outfile: path.join(dir, STAGE_BUNDLE_FILE),
    metafile: true,
    logLevel: 'warning',
  });
  copyFileSync(STAGE_DOCKERFILE, path.join(dir, 'Dockerfile'));
  return { dir, metafile: result.metafile };
}

/**
 * The stage image: on first use in a stack, its build context is written under the app's output
 * folder and staged as an image asset for {@link STAGE_CPU_ARCHITECTURE}. When the stack skips
 * bundling (`aws:cdk:bundling-stacks`), the context holds only the Dockerfile, as NodejsFunction
 * stages a placeholder then.
 */
export class BundledStageImage extends ecs.ContainerImage {
  #image: ecs.ContainerImage | undefined;

  override bind(scope: Construct, containerDefinition: ecs.ContainerDefinition): ecs.ContainerImageConfig {
    this.#image ??= ecs.ContainerImage.fromAsset(this.#context(scope), {
      platform: imagePlatformFor(STAGE_CPU_ARCHITECTURE),
    });
    return this.#image.bind(scope, containerDefinition);
  }

  #context(scope: Construct): string {
    const stack = Stack.of(scope);
    const stage = Stage.of(scope);
    if (!stage)
      throw new Error('The stage image is built into the app output folder: use it in a stack of an App');
    const dir = path.join(stage.outdir, '.piko-stage-image', stack.artifactId);
    if (stack.bundlingRequired) return buildStageImageContext(dir).dir;
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    copyFileSync(STAGE_DOCKERFILE, path.join(dir, 'Dockerfile'));
    return dir;
  }
}
