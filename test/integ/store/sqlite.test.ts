import { openSqliteStore } from '../../../shared/store/sqlite.ts';
import { tempSqliteFile } from '../../helpers/sqlite.ts';
import { describeStateStore } from './conformance.ts';
import { describeLeaseStore } from './leases.ts';
import { describeStageEvents } from './stage-events.ts';

describeStateStore(
  'SQLite',
  async ({ clock }) => {
    const temp = await tempSqliteFile();
    const store = await openSqliteStore({ file: temp.file, clock });
    return {
      store,
      async cleanup() {
        await store.close();
        await temp.cleanup();
      },
    };
  },
  {
    async freshTarget() {
      const temp = await tempSqliteFile();
      return { config: { sqliteFile: temp.file }, cleanup: () => temp.cleanup() };
    },
  },
);

describeStageEvents('SQLite', async ({ clock }) => {
  const temp = await tempSqliteFile();
  const store = await openSqliteStore({ file: temp.file, clock });
  return {
    store,
    async cleanup() {
      await store.close();
      await temp.cleanup();
    },
  };
});

describeLeaseStore('SQLite', async () => {
  const temp = await tempSqliteFile();
  const store = await openSqliteStore({ file: temp.file });
  return {
    store,
    async cleanup() {
      await store.close();
      await temp.cleanup();
    },
  };
});
