'use strict';
// Stands in for better-sqlite3 in the Fargate stage bundle (see infra/container-image.ts): the image
// carries no native modules, and stages on AWS keep their state in MySQL.
module.exports = class Database {
  constructor() {
    throw new Error(
      'SQLite is not available in the Piko stage image (better-sqlite3 is left out): set PIKO_MYSQL__DSN',
    );
  }
};
