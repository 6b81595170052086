/**
 * ECS task ARNs: what a Fargate stage records on its run, and what `piko cancel --aws` stops. Only
 * the long format (every task since 2021), which names the task's cluster, is accepted.
 */

/** `arn:<partition>:ecs:<region>:<account>:task/<cluster>/<id>`. */
const TASK_ARN = /^(arn:[a-z-]+:ecs:[a-z0-9-]+:\d{12}):task\/([A-Za-z0-9_-]{1,255})\/([A-Za-z0-9]{1,64})$/;

/** True for an ECS task ARN in the long format. */
export function isTaskArn(value: string): boolean {
  return TASK_ARN.test(value);
}

/**
 * The cluster of a long-format task ARN, as an ARN (`arn:…:ecs:<region>:<account>:cluster/<name>`);
 * undefined for anything else.
 */
export function clusterArnOfTask(taskArn: string): string | undefined {
  const match = TASK_ARN.exec(taskArn);
  return match ? `${match[1]}:cluster/${match[2]}` : undefined;
}
