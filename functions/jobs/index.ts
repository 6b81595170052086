/**
 * The project's jobs. Every job file in this folder must be listed here: the Lambda and container
 * bundles import this list (bundlers cannot read a folder), and `piko` refuses a job file left out.
 */
import type { JobDefinition } from '#piko';
import { nightlyArchive } from './nightly-archive.ts';
import { priceFanout } from './price-fanout.ts';
import { storeTotals } from './store-totals.ts';

/** Every job, in any order; ids must be unique. */
export const jobs: readonly JobDefinition[] = [priceFanout, storeTotals, nightlyArchive];
