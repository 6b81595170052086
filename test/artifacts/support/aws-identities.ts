/**
 * Who signs what in the artifact tier: each sandboxed function gets fixed test credentials with an
 * access key of its own, so every local endpoint (the IAM proxy, the Step Functions endpoint) can
 * tell which function's role made a call, and records it for the IAM simulation.
 */
import { createHash } from 'node:crypto';
import type { TestCredentials } from './lambda-sandbox.ts';

/** The role a call is made with. */
export interface AwsPrincipal {
  /** Who it is (the function's logical id, or a test's name for itself). */
  readonly name: string;
  /** The role's logical id in the template. */
  readonly roleLogicalId: string;
  /** The role's ARN (resolved stand-in). */
  readonly roleArn: string;
  readonly credentials: TestCredentials;
}

/** One AWS call a sandbox made, as the endpoint that received it saw it. */
export interface RecordedAwsCall {
  /** IAM action: `rds-db:connect`, `states:StartExecution`. */
  readonly action: string;
  /** The resource ARN the action is on. */
  readonly resource: string;
  readonly accessKeyId: string;
  /** The request's IAM condition keys the endpoint knows (`ecs:cluster`). @default none */
  readonly context?: Readonly<Record<string, string>>;
  /** Undefined when the access key is not one of {@link AwsIdentities}. */
  readonly principal: AwsPrincipal | undefined;
}

/** The fixed secret every test principal signs with (only the access key differs). */
export const TEST_SECRET_ACCESS_KEY = 'pikoArtifactTierTestSecretKey/0000000000';
/** The fixed session token of every test principal. */
export const TEST_SESSION_TOKEN = 'piko-artifact-tier-test-session-token';

/** The principals of a test file and the calls they made. */
export class AwsIdentities {
  readonly #byKey = new Map<string, AwsPrincipal>();
  readonly #calls: RecordedAwsCall[] = [];

  /** Creates (or returns) the principal `name` acting with the role `roleLogicalId` (`roleArn`). */
  principal(name: string, roleLogicalId: string, roleArn: string): AwsPrincipal {
    const accessKeyId = `ASIA${createHash('sha256').update(name).digest('hex').slice(0, 16).toUpperCase()}`;
    const existing = this.#byKey.get(accessKeyId);
    if (existing) return existing;
    const principal: AwsPrincipal = {
      name,
      roleLogicalId,
      roleArn,
      credentials: { accessKeyId, secretAccessKey: TEST_SECRET_ACCESS_KEY, sessionToken: TEST_SESSION_TOKEN },
    };
    this.#byKey.set(accessKeyId, principal);
    return principal;
  }

  /** The principal of an access key. */
  byAccessKey(accessKeyId: string): AwsPrincipal | undefined {
    return this.#byKey.get(accessKeyId);
  }

  /** Records a call an endpoint received. */
  record(call: Omit<RecordedAwsCall, 'principal'>): void {
    this.#calls.push({ ...call, principal: this.byAccessKey(call.accessKeyId) });
  }

  /** Every call recorded so far, in order. */
  calls(): readonly RecordedAwsCall[] {
    return [...this.#calls];
  }
}
