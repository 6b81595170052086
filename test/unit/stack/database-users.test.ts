import { describe, expect, it } from 'vitest';
import { databaseUsersOf } from '../../../functions/migrate.ts';
import {
  databaseUserStatements,
  dispatcherUserPlan,
  jobDatabaseUser,
  jobUserPlan,
} from '../../../shared/stack/database-users.ts';

describe('database users', () => {
  it('names a job user after the job, with a hash when the id has a "-" or the name passes 32 characters', () => {
    expect(jobDatabaseUser('store_totals')).toBe('piko_job_store_totals');
    const long = jobDatabaseUser('a_very_long_job_identifier_of_forty_char');
    expect(long).toMatch(/^piko_job_a_very_long_jo_[0-9a-f]{8}$/);
    expect(long).toHaveLength(32);
    // `a-b` and `a_b` are different jobs: they never share a user.
    expect(jobDatabaseUser('a-b')).not.toBe(jobDatabaseUser('a_b'));
    expect(jobDatabaseUser('a-b')).toMatch(/^piko_job_a_b_[0-9a-f]{8}$/);
  });

  it('writes idempotent statements: create with the IAM plugin, revoke all, grant per table', () => {
    expect(databaseUserStatements('piko', [jobUserPlan('sales', ['sales_daily'])])).toEqual([
      "CREATE USER IF NOT EXISTS 'piko_job_sales'@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' REQUIRE SSL",
      "REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'piko_job_sales'@'%'",
      "GRANT SELECT, UPDATE ON `piko`.`piko_runs` TO 'piko_job_sales'@'%'",
      "GRANT SELECT ON `piko`.`piko_jobs` TO 'piko_job_sales'@'%'",
      "GRANT SELECT ON `piko`.`piko_backfills` TO 'piko_job_sales'@'%'",
      "GRANT CREATE, SELECT, INSERT, UPDATE ON `piko`.`sales_daily` TO 'piko_job_sales'@'%'",
    ]);
  });

  it('refuses a plan whose names would reach SQL unquoted, listing every problem', () => {
    expect(() =>
      databaseUserStatements('piko', [
        dispatcherUserPlan(),
        { user: "x'; DROP USER root; --", grants: [{ table: 'a`b', privileges: ['DROP' as 'SELECT'] }] },
        { user: 'piko_admin', grants: [] },
      ]),
    ).toThrow(
      'Invalid database user plan: user "x\'; DROP USER root; --" is not a valid user name; table "a`b" of x\'; DROP USER root; -- is not a valid identifier; privilege "DROP" on a`b of x\'; DROP USER root; -- is not allowed; user piko_admin is the master user',
    );
  });

  it('refuses a sink on a state table', () => {
    expect(() => jobUserPlan('sales', ['piko_jobs'])).toThrow(
      'Job "sales" has sinks on piko_jobs: the piko_ prefix is reserved for the state tables; rename the sink table.',
    );
  });

  it('reads the users from the custom resource event, and refuses what is not a list', () => {
    const users = [dispatcherUserPlan()];
    expect(
      databaseUsersOf({
        RequestType: 'Create',
        ResourceProperties: { databaseUsers: JSON.stringify(users) },
      }),
    ).toEqual(users);
    expect(databaseUsersOf({ RequestType: 'Update' })).toEqual([]);
    expect(() =>
      databaseUsersOf({ RequestType: 'Create', ResourceProperties: { databaseUsers: '{' } }),
    ).toThrow(
      'Invalid configuration:\n  - the migrations resource property databaseUsers must be a JSON list of users, got {; redeploy the stack',
    );
  });
});
