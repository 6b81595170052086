/**
 * The container runner of the artifact tier does what ECS does with the image: the image's user (not
 * root), its files read-only to that user, and a `/tmp` bind volume that only a `VOLUME` declaration
 * makes writable for a non-root user; a Dockerfile it cannot reproduce without Docker is refused.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDockerfile, runContainer } from './support/container-task.ts';

const NODE_MAJOR = Number(process.versions.node.split('.')[0]);
const contexts: string[] = [];

/** What the probe prints: its uid, whether /tmp and its own folder are writable. */
const PROBE = `
import { writeFileSync } from 'node:fs';
const tryWrite = (file) => { try { writeFileSync(file, 'x'); return 'ok'; } catch (error) { return error.code; } };
console.log(JSON.stringify({ uid: process.getuid(), tmp: tryWrite('/tmp/probe'), app: tryWrite(new URL('./probe', import.meta.url)), env: process.env.STAGE }));
`;

function context(dockerfile: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'piko-container-context-'));
  contexts.push(dir);
  writeFileSync(path.join(dir, 'Dockerfile'), dockerfile);
  writeFileSync(path.join(dir, 'main.mjs'), PROBE);
  return dir;
}

async function probe(dockerfile: string) {
  const exit = await runContainer({
    contextDir: context(dockerfile),
    environment: { STAGE: 'compress' },
    bindMounts: ['/tmp'],
    nodeBinary: () => process.execPath,
    workRoot: '/var/tmp/piko-artifact-tasks',
    timeoutMs: 30_000,
  });
  expect(exit.exitCode, exit.stderr).toBe(0);
  return JSON.parse(exit.stdout.trim()) as { uid: number; tmp: string; app: string; env: string };
}

afterAll(() => {
  for (const dir of contexts) rmSync(dir, { recursive: true, force: true });
});

describe('container task runner (the stage image, as ECS runs it)', () => {
  const base = `FROM public.ecr.aws/docker/library/node:${NODE_MAJOR}-slim\nWORKDIR /app\nCOPY main.mjs ./\n`;

  it('runs as the image user with a writable /tmp when the image declares it a VOLUME', async () => {
    const result = await probe(
      `${base}RUN chown node:node /tmp && chmod 1777 /tmp\nVOLUME ["/tmp"]\nUSER node\nCMD ["node", "main.mjs"]\n`,
    );
    expect(result).toEqual({ uid: 1000, tmp: 'ok', app: 'EACCES', env: 'compress' });
  });

  it('gives a non-root user a root-owned 0755 /tmp when the image declares no VOLUME (EACCES)', async () => {
    const result = await probe(`${base}USER node\nCMD ["node", "main.mjs"]\n`);
    expect(result).toEqual({ uid: 1000, tmp: 'EACCES', app: 'EACCES', env: 'compress' });
  });

  it('refuses a RUN step that would need a Docker engine', () => {
    expect(() => parseDockerfile(`${base}RUN npm ci --omit=dev\nCMD ["node", "main.mjs"]\n`)).toThrow(
      'Dockerfile: "RUN npm ci --omit=dev" cannot be reproduced without a Docker engine; the artifact tier runs images built from a bundle, whose RUN steps only set owners and modes',
    );
  });
});
