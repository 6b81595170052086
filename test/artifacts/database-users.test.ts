/**
 * Least privilege in the database, from the artifacts of the fixture app: the migrations bundle
 * creates one user per role; a schedule tick runs the `intruder` job's bundle, which connects as its
 * own user (the template's DSN, an IAM token through the proxy) and tries DDL and writes beyond its
 * grants. MariaDB's errors, recorded as the run's output, are the proof; its own sink table it may
 * create and write.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobDatabaseUser } from '../../shared/stack/database-users.ts';
import type { INTRUDER_STATEMENTS } from './fixtures/jobs/index.ts';
import { deployMigrations, runsOf, tick } from './support/flows.ts';
import { fixtureApp, startWorkflowStack, type WorkflowStack } from './support/workflow-stack.ts';

const USER = jobDatabaseUser('intruder');
let world: WorkflowStack;

beforeAll(async () => {
  world = await startWorkflowStack({ app: fixtureApp });
  await deployMigrations(world);
}, 240_000);

afterAll(async () => {
  await world?.stop();
});

describe('database users (fixture app, bundles through the IAM proxy)', () => {
  it("a job's code connected as its user cannot drop, alter or create state tables, nor touch other jobs' rows", async () => {
    const answer = await tick(await world.sandbox('Dispatcher'), 'intruder');
    expect(answer.started).toHaveLength(1);
    await world.settled();
    const [run] = await runsOf(world, 'intruder');
    expect(run?.status, JSON.stringify(run)).toBe('succeeded');
    const errors = JSON.parse(run!.output!) as Record<keyof typeof INTRUDER_STATEMENTS, string>;
    // sqlPool() lends the store's MySQL adapter: each refusal is a StoreError naming the server's code.
    const denied = 'MySQL query failed (ER_TABLEACCESS_DENIED_ERROR):';
    expect(errors).toEqual({
      dropRuns: `${denied} DROP command denied to user '${USER}'@'127.0.0.1' for table \`piko\`.\`piko_runs\``,
      createElsewhere: `${denied} CREATE command denied to user '${USER}'@'127.0.0.1' for table \`piko\`.\`intruder_elsewhere\``,
      alterRuns: `${denied} ALTER command denied to user '${USER}'@'127.0.0.1' for table \`piko\`.\`piko_runs\``,
      deleteRuns: `${denied} DELETE command denied to user '${USER}'@'127.0.0.1' for table \`piko\`.\`piko_runs\``,
      pauseOthers: `${denied} UPDATE command denied to user '${USER}'@'127.0.0.1' for table \`piko\`.\`piko_jobs\``,
    });
    // The state tables are intact, and the job's own sink table was created and written.
    const tables = (await world.stack.query<Record<string, string>[]>('SHOW TABLES')).map(
      (row) => Object.values(row)[0],
    );
    expect(tables).toEqual(expect.arrayContaining(['piko_runs', 'piko_jobs', 'intruder_rows']));
    expect(tables).not.toContain('intruder_elsewhere');
    expect(await world.stack.query('SELECT note FROM intruder_rows')).toEqual([{ note: 'own sink' }]);
    // It connected as its own user, and the proxy logged in to MariaDB as that user.
    expect(world.stack.proxy.logins()).toContainEqual({ user: USER, accepted: true });
    console.log(`intruder as ${USER}: ${Object.keys(errors).length} statements beyond its grants refused`);
  });
});
