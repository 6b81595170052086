import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TimeoutError } from '../../../shared/errors.ts';
import {
  configureTelemetry,
  createMetrics,
  errorMessage,
  logger,
  metrics,
  RunsSucceeded,
  redact,
  registerSecret,
} from '../../../shared/telemetry.ts';

describe('redact', () => {
  it('removes URL credentials, AWS signatures and the given secrets', () => {
    const text =
      'connect mysql://app:p%40ss@db:3306/piko failed; token proxy:3306/?Action=connect&X-Amz-Signature=abc123&X-Amz-Date=1; key sk-live-42';

    const result = redact(text, ['sk-live-42']);

    expect(result).toBe(
      'connect mysql://<redacted>@db:3306/piko failed; token proxy:3306/?Action=connect&X-Amz-Signature=<redacted>&X-Amz-Date=1; key <redacted>',
    );
  });

  it('removes a secret in plain and URL-encoded form, and ignores secrets shorter than 4 characters', () => {
    const result = redact('pw=a/b+c enc=a%2Fb%2Bc short=abc', ['a/b+c', 'abc']);

    expect(result).toBe('pw=<redacted> enc=<redacted> short=abc');
  });
});

describe('errorMessage', () => {
  it('names the error class and its causes', () => {
    const err = new TimeoutError('handler ran longer than 5m', { cause: new Error('socket hang up') });

    expect(errorMessage(err)).toBe('TimeoutError: handler ran longer than 5m (cause: socket hang up)');
  });

  it('describes values that are not errors', () => {
    expect(errorMessage('plain text')).toBe('plain text');
    expect(errorMessage({ code: 42 })).toBe('{"code":42}');
    expect(errorMessage(undefined)).toBe('undefined');
  });

  it('removes registered secrets before cutting to 1,000 characters', () => {
    registerSecret('registered-secret-value');
    const err = new Error(`${'x'.repeat(990)}registered-secret-value`);

    const message = errorMessage(err);

    expect(message).toHaveLength(1_000);
    expect(message).toBe(`${'x'.repeat(990)}<redacted>`);
    expect(errorMessage(new Error('y'.repeat(1_500)))).toBe(`${'y'.repeat(999)}…`);
  });
});

describe('logger', () => {
  let stdout: string[];
  let stderr: string[];
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-11-26T11:00:00.000Z'));
    stdout = [];
    stderr = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => stdout.push(String(chunk)) > 0);
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => stderr.push(String(chunk)) > 0);
  });
  afterEach(() => {
    vi.restoreAllMocks();
    vi.useRealTimers();
    configureTelemetry({ logLevel: 'info', json: false });
  });

  it('prints readable single lines in a terminal', () => {
    configureTelemetry({ logLevel: 'info', json: false });

    logger.debug('not shown');
    logger.info('Run succeeded', { jobId: 'daily_sales', runId: 7, note: 'two words', at: new Date(0) });
    logger.warn('Slow run', new TimeoutError('took 6m'));

    expect(stdout).toEqual([
      '2026-11-26T11:00:00.000Z INFO  Run succeeded jobId=daily_sales runId=7 note="two words" at=1970-01-01T00:00:00.000Z\n',
    ]);
    expect(stderr).toEqual(['2026-11-26T11:00:00.000Z WARN  Slow run error="TimeoutError: took 6m"\n']);
  });

  it('prints Powertools JSON lines when json is on', () => {
    configureTelemetry({ logLevel: 'debug', json: true });

    logger.debug('Planned', { jobId: 'daily_sales', intervals: 3 });

    expect(stdout).toHaveLength(1);
    expect(JSON.parse(stdout[0]!)).toMatchObject({
      level: 'DEBUG',
      message: 'Planned',
      service: 'piko',
      timestamp: '2026-11-26T11:00:00.000Z',
      jobId: 'daily_sales',
      intervals: 3,
    });
  });

  it('keeps secrets out of logged errors in JSON', () => {
    configureTelemetry({ logLevel: 'info', json: true });

    logger.error('Connect failed', new Error('cannot reach mysql://app:hunter22@db/piko'));

    const line = JSON.parse(stderr.join(''));
    expect(line.error.message).toBe('cannot reach mysql://<redacted>@db/piko');
    expect(JSON.stringify(line)).not.toContain('hunter22');
  });
});

describe('metrics', () => {
  it('publishes in the Piko namespace for the piko service', () => {
    metrics.addMetric(RunsSucceeded, MetricUnit.Count, 1);

    const emf = metrics.serializeMetrics();
    metrics.clearMetrics();

    expect(emf._aws.CloudWatchMetrics[0]?.Namespace).toBe('Piko');
    expect(emf._aws.CloudWatchMetrics[0]?.Metrics).toEqual([{ Name: 'RunsSucceeded', Unit: 'Count' }]);
    expect(emf).toMatchObject({ service: 'piko', RunsSucceeded: 1 });
  });

  it("carries the stack's name as a dimension, so two stacks in one account stay apart", () => {
    const staging = createMetrics('PikoStaging');
    staging.addMetric(RunsSucceeded, MetricUnit.Count, 1);

    const emf = staging.serializeMetrics();

    expect(emf._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([['service', 'stack']]);
    expect(emf).toMatchObject({ service: 'piko', stack: 'PikoStaging', RunsSucceeded: 1 });
  });
});
