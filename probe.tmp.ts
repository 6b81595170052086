import { runPoolLoad } from './test/load/pool-load.ts';
const r = await runPoolLoad({ serverUrl: 'mysql://root@127.0.0.1:3306', runs: Number(process.argv[2] ?? 500), pool: Number(process.argv[3] ?? 10), concurrency: Number(process.argv[4] ?? 500), holdMs: 5 });
console.log(JSON.stringify({ ...r, peaks: undefined }, null, 1));
