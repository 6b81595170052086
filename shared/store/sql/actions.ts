/** The operator actions' record in `piko_actions`: who did what, when and why (DESIGN.md §8). */
import { StoreError } from '../../errors.ts';
import type { SqlDatabase } from '../../sql.ts';
import {
  type ActionQuery,
  type NewOperatorAction,
  OPERATOR_ACTION_KINDS,
  type OperatorAction,
  type OperatorActionKind,
} from '../types.ts';
import { checkCount, checkJobId, truncateError } from './checks.ts';
import type { SqlContext } from './dialect.ts';
import { toDate, toJson } from './rows.ts';

const MAX_TARGET_LENGTH = 200;
const MAX_ACTOR_LENGTH = 200;
const ACTION_COLUMNS = 'action_id, job_id, kind, target, actor, reason, details, created_at';

/** Records `action` on the context's connection (a job transaction's, or the store's). */
export async function recordAction(ctx: SqlContext, action: NewOperatorAction): Promise<void> {
  checkAction(action);
  await ctx.db.query(
    'INSERT INTO piko_actions (job_id, kind, target, actor, reason, details, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    [
      action.jobId,
      action.kind,
      action.target,
      action.actor,
      action.reason == null ? null : truncateError(action.reason),
      toJson(action.details),
      ctx.clock(),
    ],
  );
}

/** Recorded actions, newest first. */
export async function listActions(db: SqlDatabase, query: ActionQuery): Promise<OperatorAction[]> {
  checkCount('limit', query.limit);
  const where: string[] = [];
  const params: unknown[] = [];
  if (query.jobId !== undefined) {
    checkJobId(query.jobId);
    where.push('job_id = ?');
    params.push(query.jobId);
  }
  if (query.beforeId !== undefined) {
    checkCount('beforeId', query.beforeId);
    where.push('action_id < ?');
    params.push(query.beforeId);
  }
  const { rows } = await db.query(
    `SELECT ${ACTION_COLUMNS} FROM piko_actions${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY action_id DESC LIMIT ?`,
    [...params, query.limit],
  );
  return rows.map((row) => ({
    actionId: Number(row.action_id),
    jobId: String(row.job_id),
    kind: String(row.kind) as OperatorActionKind,
    target: String(row.target),
    actor: String(row.actor),
    reason: row.reason === null || row.reason === undefined ? null : String(row.reason),
    details: row.details === null || row.details === undefined ? null : JSON.parse(String(row.details)),
    at: toDate(row.created_at),
  }));
}

function checkAction(action: NewOperatorAction): void {
  checkJobId(action.jobId);
  const problems: string[] = [];
  if (!OPERATOR_ACTION_KINDS.includes(action.kind)) {
    problems.push(`kind "${action.kind}" is not one of ${OPERATOR_ACTION_KINDS.join(', ')}`);
  }
  if (typeof action.target !== 'string' || action.target.length > MAX_TARGET_LENGTH) {
    problems.push(`target must be a string of at most ${MAX_TARGET_LENGTH} characters`);
  }
  if (
    typeof action.actor !== 'string' ||
    action.actor.length === 0 ||
    action.actor.length > MAX_ACTOR_LENGTH
  ) {
    problems.push(`actor must be a string of 1 to ${MAX_ACTOR_LENGTH} characters`);
  }
  if (action.reason != null && typeof action.reason !== 'string') problems.push('reason must be a string');
  if (problems.length > 0) throw new StoreError(`Invalid operator action: ${problems.join('; ')}.`);
}
