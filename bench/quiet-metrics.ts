/**
 * Import first, for its side effect: turns off Powertools metrics (EMF blobs on stdout) before
 * shared/telemetry.ts creates its Metrics, so a benchmark's last line stays its JSON object.
 */
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
