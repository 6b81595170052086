/**
 * Child process of the migration race test: opens the store described by argv[2] (a StoreConfig
 * as JSON), prints `ready`, waits for `go` on stdin, migrates, prints the result as JSON, closes.
 */
import { once } from 'node:events';
import type { StoreConfig } from '../../../shared/store/index.ts';
import { openStore } from '../../../shared/store/local.ts';

const config = JSON.parse(process.argv[2] ?? '{}') as StoreConfig;
const store = await openStore(config);
try {
  process.stdout.write('ready\n');
  process.stdin.resume();
  await once(process.stdin, 'end');
  const result = await store.migrate();
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await store.close();
}
