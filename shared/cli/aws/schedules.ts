/**
 * Enabling and disabling a job's EventBridge Scheduler schedules (`piko pause|resume --aws`).
 */
import {
  GetScheduleCommand,
  type GetScheduleCommandOutput,
  type ScheduleState,
  UpdateScheduleCommand,
  type UpdateScheduleCommandInput,
} from '@aws-sdk/client-scheduler';
import { AwsCallError } from '../../errors.ts';
import type { AwsSession } from './session.ts';

/** What {@link setScheduleState} did to one schedule. */
export interface ScheduleStateChange {
  /** `<group>/<name>`. */
  readonly schedule: string;
  /** The state it had. */
  readonly from: string;
  /** The state it has now. */
  readonly to: ScheduleState;
  /** False when it already had that state (nothing was written). */
  readonly changed: boolean;
}

/**
 * Sets a schedule's state. UpdateSchedule replaces the whole schedule (a field left out is reset to
 * its default), so the schedule is read with GetSchedule and written back with every field it had and
 * only `State` changed. A schedule already in that state is not written.
 * @throws AwsResourceNotFoundError (exit 2) when the schedule does not exist; the errors of
 *   {@link AwsSession.call}; AwsCallError when GetSchedule answers without a required field.
 */
export async function setScheduleState(
  session: AwsSession,
  groupName: string,
  name: string,
  state: ScheduleState,
): Promise<ScheduleStateChange> {
  const schedule = `${groupName}/${name}`;
  const resource = `schedule ${schedule} in ${session.target.region}`;
  const current = await session.call(
    {
      operation: 'EventBridge Scheduler GetSchedule',
      resource,
      permission: 'scheduler:GetSchedule',
      notFoundHint: `deploy the stack "${session.target.stackName}" (npx cdk deploy) after adding or renaming the job`,
    },
    () => session.scheduler.send(new GetScheduleCommand({ Name: name, GroupName: groupName })),
  );
  const from = current.State ?? 'unknown';
  if (current.State === state) return { schedule, from, to: state, changed: false };

  const update: UpdateScheduleCommandInput = {
    ...writableFields(current),
    Name: name,
    GroupName: groupName,
    State: state,
  };
  if (!update.ScheduleExpression || !update.FlexibleTimeWindow || !update.Target) {
    throw new AwsCallError(
      `EventBridge Scheduler GetSchedule of ${resource} answered without its expression, flexible time window or target; it was not updated`,
      'IncompleteSchedule',
    );
  }
  await session.call(
    {
      operation: 'EventBridge Scheduler UpdateSchedule',
      resource,
      permission: 'scheduler:UpdateSchedule (and iam:PassRole on its target role)',
      notFoundHint: `deploy the stack "${session.target.stackName}" (npx cdk deploy) after adding or renaming the job`,
    },
    () => session.scheduler.send(new UpdateScheduleCommand(update)),
  );
  return { schedule, from, to: state, changed: true };
}

/**
 * Every field of a GetSchedule answer that UpdateSchedule takes back: all but the read-only ones and
 * the SDK's metadata. Fields the SDK learns later are kept too (the SDK only sends the input's own).
 */
function writableFields(schedule: GetScheduleCommandOutput): Omit<UpdateScheduleCommandInput, 'Name'> {
  const readOnly = new Set(['$metadata', 'Arn', 'CreationDate', 'LastModificationDate']);
  return Object.fromEntries(
    Object.entries(schedule).filter(([key, value]) => !readOnly.has(key) && value !== undefined),
  ) as Omit<UpdateScheduleCommandInput, 'Name'>;
}
