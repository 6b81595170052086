/**
 * The AWS calls the artifacts make in a flow, as IAM sees them: who (the role), what (the action),
 * on which resource. Fed to the IAM simulation (`iam-simulation.ts`) to check that every call made is
 * allowed by the synthesized policies.
 */

/** One call, as IAM authorises it. */
export interface AwsCall {
  /** The calling role's ARN (a function's or a state machine's execution role, a task role). */
  readonly principal: string;
  /** `service:Action`, as in a policy (`states:StartExecution`, `lambda:InvokeFunction`). */
  readonly action: string;
  /** The resource ARN IAM checks. */
  readonly resource: string;
  /** Who made it, for messages: `dispatcher`, `Piko-store_totals › Stage main`. */
  readonly caller: string;
}

/** Every call of a run, in order. */
export class AwsCallLog {
  readonly #calls: AwsCall[] = [];

  /** Records one call. */
  record(call: AwsCall): void {
    this.#calls.push(call);
  }

  /** The calls so far. */
  get calls(): readonly AwsCall[] {
    return this.#calls;
  }

  /** The distinct calls (principal, action, resource), sorted: what the IAM simulation needs to check. */
  distinct(): AwsCall[] {
    const seen = new Map<string, AwsCall>();
    for (const call of this.#calls) seen.set(`${call.principal} ${call.action} ${call.resource}`, call);
    return [...seen.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, call]) => call);
  }

  /** How many calls of `action` were made. */
  count(action: string): number {
    return this.#calls.filter((call) => call.action === action).length;
  }
}
