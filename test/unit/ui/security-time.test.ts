import { describe, expect, it } from 'vitest';
import { isAllowedHost, isSameOrigin, isToken, resolveUiAddress } from '../../../shared/ui/security.ts';
import {
  formatDuration,
  formatInZone,
  formatUtc,
  panRange,
  parseRange,
  zoomRange,
} from '../../../shared/ui/time.ts';

describe('UI guards', () => {
  it('refuses an address beyond loopback without a configured token, and makes a token otherwise', () => {
    expect(() => resolveUiAddress({ host: '0.0.0.0', port: 4310 })).toThrow(
      '--host 0.0.0.0 is not a loopback address: the UI listens beyond this machine only with a token configured (ui.token in settings.toml or PIKO_UI__TOKEN, at least 16 characters)',
    );
    const configured = resolveUiAddress({
      host: '0.0.0.0',
      port: 4310,
      configuredToken: 'operator-token-0123',
    });
    expect(configured).toEqual({
      host: '0.0.0.0',
      port: 4310,
      token: 'operator-token-0123',
      tokenConfigured: true,
    });
    const made = resolveUiAddress({ host: '127.0.0.1', port: 4310 });
    expect(made.tokenConfigured).toBe(false);
    expect(made.token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(resolveUiAddress({ host: '127.0.0.1', port: 4310 }).token).not.toBe(made.token);
    expect(() => resolveUiAddress({ host: '::1', port: 70_000 })).toThrow(
      '--port 70000 is not a port: give a number from 1 to 65535 (0: any free port)',
    );
  });

  it('answers loopback Host names only when bound to loopback, and any when bound beyond', () => {
    for (const host of ['127.0.0.1:4310', 'localhost:4310', '[::1]:4310', 'localhost']) {
      expect(isAllowedHost('127.0.0.1', host)).toBe(true);
    }
    for (const host of ['attacker.example:4310', '127.0.0.1.attacker.example', undefined]) {
      expect(isAllowedHost('127.0.0.1', host)).toBe(false);
    }
    expect(isAllowedHost('0.0.0.0', 'piko.internal:4310')).toBe(true);
  });

  it('takes a POST from its own origin or none, and the token only as it is', () => {
    expect(isSameOrigin(undefined, '127.0.0.1:4310')).toBe(true);
    expect(isSameOrigin('http://127.0.0.1:4310', '127.0.0.1:4310')).toBe(true);
    expect(isSameOrigin('http://attacker.example', '127.0.0.1:4310')).toBe(false);
    expect(isSameOrigin('null', '127.0.0.1:4310')).toBe(false);
    expect(isToken('secret-token-1234', 'secret-token-1234')).toBe(true);
    expect(isToken('secret-token-1234', 'secret-token-123')).toBe(false);
    expect(isToken('secret-token-1234', undefined)).toBe(false);
  });
});

describe('UI times', () => {
  it('shows an instant in the job’s timezone with its offset, and in UTC', () => {
    const instant = new Date('2026-03-08T06:59:30.000Z');
    expect(formatInZone(instant, 'America/New_York')).toBe('2026-03-08 01:59:30 GMT-5');
    expect(formatInZone(new Date('2026-03-08T07:00:00.000Z'), 'America/New_York')).toBe(
      '2026-03-08 03:00 GMT-4',
    );
    expect(formatInZone(instant, 'Asia/Shanghai')).toBe('2026-03-08 14:59:30 GMT+8');
    expect(formatInZone(instant, 'UTC')).toBe('2026-03-08 06:59:30 UTC');
    expect(formatUtc(instant)).toBe('2026-03-08 06:59:30Z');
    expect(formatUtc(new Date('2026-03-08T06:59:30.250Z'))).toBe('2026-03-08 06:59:30.250Z');
  });

  it('says durations for people', () => {
    expect([850, 1_500, 12_340, 303_000, 7_500_000, 273_600_000].map(formatDuration)).toEqual([
      '850 ms',
      '1.50 s',
      '12.3 s',
      '5 min 3 s',
      '2 h 5 min',
      '3 d 4 h',
    ]);
  });

  it('parses, zooms and pans ranges within their limits', () => {
    const range = parseRange('2026-03-01T00:00:00Z', '2026-03-02T00:00:00+00:00');
    expect(zoomRange(range, 0.5)).toEqual({
      from: new Date('2026-03-01T06:00:00Z'),
      to: new Date('2026-03-01T18:00:00Z'),
    });
    expect(panRange(range, -0.5)).toEqual({
      from: new Date('2026-02-28T12:00:00Z'),
      to: new Date('2026-03-01T12:00:00Z'),
    });
    // Never below a minute.
    const tiny = zoomRange(
      { from: new Date('2026-03-01T00:00:00Z'), to: new Date('2026-03-01T00:01:00Z') },
      0.5,
    );
    expect(tiny.to.getTime() - tiny.from.getTime()).toBe(60_000);
    expect(() => parseRange('yesterday', '2026-03-02T00:00:00Z')).toThrow(
      'from="yesterday" is not an ISO 8601 instant with an offset, such as 2026-03-01T00:00:00Z',
    );
    expect(() => parseRange('2026-03-02T00:00:00Z', '2026-03-01T00:00:00Z')).toThrow(
      'The range 2026-03-02T00:00:00.000Z → 2026-03-01T00:00:00.000Z must be from one minute to 20 years long, with from before to',
    );
  });
});
