/** IAM database authentication tokens (RDS Proxy, Aurora): signed on demand, cached while fresh. */
import { registerSecret } from '../../telemetry.ts';

const MINUTE_MS = 60_000;
/** IAM auth tokens live 15 minutes; a new one is signed once the cached one is this old. */
export const IAM_TOKEN_REFRESH_MS = 10 * MINUTE_MS;

/** Something that signs IAM auth tokens: `@aws-sdk/rds-signer`'s `Signer`, or a fake in tests. */
export interface IamTokenSigner {
  getAuthToken(): Promise<string>;
}

/**
 * Caches IAM auth tokens: returns the cached token while it is younger than
 * {@link IAM_TOKEN_REFRESH_MS}, else signs a new one (concurrent callers share one signing).
 */
export function createIamTokenProvider(
  signer: IamTokenSigner,
  nowMs: () => number = Date.now,
): () => Promise<string> {
  let cached: { token: string; signedAt: number } | undefined;
  let signing: Promise<string> | undefined;
  return () => {
    if (cached && nowMs() - cached.signedAt < IAM_TOKEN_REFRESH_MS) return Promise.resolve(cached.token);
    if (!signing) {
      const signedAt = nowMs();
      signing = signer
        .getAuthToken()
        .then((token) => {
          registerSecret(token);
          cached = { token, signedAt };
          return token;
        })
        .finally(() => {
          signing = undefined;
        });
    }
    return signing;
  };
}
