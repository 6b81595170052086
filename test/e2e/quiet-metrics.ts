/**
 * Import first, for its side effect: turns off Powertools metrics (EMF blobs on stdout every 100 runs)
 * before shared/telemetry.ts creates its Metrics, so a test's output stays readable.
 */
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
