'use strict';
// Stands in for better-sqlite3 in Piko's Lambda bundles (see infra/bundling.ts). On AWS the state store
// and the jobs' SQL resources are MySQL; the native SQLite binding is not in the bundle and could not load.
function Database() {
  throw new Error(
    "SQLite is not available in Piko's Lambda bundles (better-sqlite3 is a native module they leave out): " +
      'on AWS the state store is MySQL; set PIKO_MYSQL__DSN (the stack sets it)',
  );
}
module.exports = Database;
module.exports.default = Database;
