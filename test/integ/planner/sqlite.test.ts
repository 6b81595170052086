import { openSqliteStore } from '../../../shared/store/sqlite.ts';
import { tempSqliteFile } from '../../helpers/sqlite.ts';
import { describeDependencies } from './dependencies-suite.ts';
import { describeOperatorActions } from './operator-suite.ts';
import { describePlanner } from './planner-suite.ts';
import { describeCodeVersions } from './versions-suite.ts';

const temp = await tempSqliteFile('piko-planner-');
const versionsTemp = await tempSqliteFile('piko-versions-');
const dependenciesTemp = await tempSqliteFile('piko-dependencies-');
const actionsTemp = await tempSqliteFile('piko-actions-');

describePlanner('SQLite', {
  kind: 'sqlite',
  open: (clock) => openSqliteStore({ file: temp.file, clock }),
  wipe: async (store) => {
    for (const table of ['piko_runs', 'piko_jobs', 'piko_backfills'])
      await store.database.query(`DELETE FROM ${table}`);
  },
  databaseBytes: async (store) => {
    const pragma = async (name: string) =>
      Number((await store.database.query(`PRAGMA ${name}`)).rows[0]?.[name]);
    return ((await pragma('page_count')) - (await pragma('freelist_count'))) * (await pragma('page_size'));
  },
  cleanup: () => temp.cleanup(),
});

describeCodeVersions('SQLite', {
  kind: 'sqlite',
  open: (clock) => openSqliteStore({ file: versionsTemp.file, clock }),
  wipe: async (store) => {
    for (const table of ['piko_runs', 'piko_jobs', 'piko_backfills'])
      await store.database.query(`DELETE FROM ${table}`);
  },
  databaseBytes: async () => 0,
  cleanup: () => versionsTemp.cleanup(),
});

describeDependencies('SQLite', {
  kind: 'sqlite',
  open: (clock) => openSqliteStore({ file: dependenciesTemp.file, clock }),
  wipe: async (store) => {
    for (const table of ['piko_runs', 'piko_jobs', 'piko_backfills'])
      await store.database.query(`DELETE FROM ${table}`);
  },
  databaseBytes: async () => 0,
  cleanup: () => dependenciesTemp.cleanup(),
});

describeOperatorActions('SQLite', {
  kind: 'sqlite',
  open: (clock) => openSqliteStore({ file: actionsTemp.file, clock }),
  wipe: async (store) => {
    for (const table of ['piko_runs', 'piko_jobs', 'piko_backfills'])
      await store.database.query(`DELETE FROM ${table}`);
  },
  databaseBytes: async () => 0,
  cleanup: () => actionsTemp.cleanup(),
});
