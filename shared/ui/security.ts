/**
 * The web UI's guards. Read-only pages are open to whoever reaches the address, which is loopback
 * unless the operator configured a token; every action (POST) must carry the token, which a page
 * of another site cannot know, so it cannot make the user's browser act (CSRF).
 *
 * The token reaches a browser once, in the URL printed at start (`/?token=…`): the UI then keeps it
 * in a strict same-site, HTTP-only cookie (so no other site's request carries it, and no script
 * reads it) and puts it in its own forms. A request for a loopback UI whose `Host` is not a
 * loopback name is refused, so a site that rebinds its DNS name to 127.0.0.1 reads nothing.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { isLoopbackHost, MIN_UI_TOKEN_LENGTH } from '../config.ts';
import { InputError } from '../errors.ts';

/** The UI's default port. */
export const DEFAULT_UI_PORT = 4310;
/** The UI's default address: this machine only. */
export const DEFAULT_UI_HOST = '127.0.0.1';

/** Where the UI listens and the token its actions need. */
export interface UiAddress {
  readonly host: string;
  readonly port: number;
  readonly token: string;
  /** True when the token came from the configuration (never printed); false when made for this start. */
  readonly tokenConfigured: boolean;
}

/**
 * The address and token of a UI: `host` other than loopback is refused unless a token is configured.
 * @throws InputError naming the host and the setting that allows it.
 */
export function resolveUiAddress(options: {
  readonly host: string;
  readonly port: number;
  /** `ui.token` from the configuration. */
  readonly configuredToken?: string;
}): UiAddress {
  const { host, port, configuredToken } = options;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new InputError(`--port ${port} is not a port: give a number from 1 to 65535 (0: any free port)`);
  }
  if (!isLoopbackHost(host) && configuredToken === undefined) {
    throw new InputError(
      `--host ${host} is not a loopback address: the UI listens beyond this machine only with a token configured ` +
        `(ui.token in settings.toml or PIKO_UI__TOKEN, at least ${MIN_UI_TOKEN_LENGTH} characters)`,
    );
  }
  return {
    host,
    port,
    token: configuredToken ?? randomBytes(24).toString('base64url'),
    tokenConfigured: configuredToken !== undefined,
  };
}

/** True when `given` is the token (compared in constant time). */
export function isToken(token: string, given: string | undefined): boolean {
  if (given === undefined) return false;
  const expected = Buffer.from(token);
  const actual = Buffer.from(given);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** The cookie that keeps the token in a browser; named after the port, since cookies ignore ports. */
export function tokenCookieName(port: number): string {
  return `piko_ui_token_${port}`;
}

/**
 * Whether a request's `Host` header may be answered: any host when the UI listens beyond loopback
 * (its token guards the actions), otherwise only loopback names, so a DNS-rebound name gets nothing.
 */
export function isAllowedHost(boundHost: string, hostHeader: string | undefined): boolean {
  if (!isLoopbackHost(boundHost)) return true;
  if (!hostHeader) return false;
  const name = hostHeader.startsWith('[')
    ? hostHeader.slice(0, hostHeader.indexOf(']') + 1)
    : hostHeader.split(':')[0]!;
  return isLoopbackHost(name);
}

/**
 * Whether a POST's `Origin` (when the browser sends one) is the UI itself: another origin is a
 * cross-site request, refused even before its token is looked at.
 */
export function isSameOrigin(origin: string | undefined, hostHeader: string | undefined): boolean {
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === hostHeader;
  } catch {
    return false;
  }
}

/** The headers every answer carries: nothing loaded from elsewhere, no framing, no referrer. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  // Not no-referrer: with it, browsers send `Origin: null` on the UI's own form posts.
  'Referrer-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};
