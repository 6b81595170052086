'use strict';
// Stands in for @aws-sdk/client-s3 in the dispatcher's bundle (see infra/bundling.ts). The dispatcher
// imports the job definitions but never runs a stage, so it never opens a job's objectStore(); the S3
// SDK (about 225 KB) stays out of its cold start. Job functions and stage containers carry the real one.
class S3Client {
  constructor() {
    throw new Error(
      "The S3 client is not in the Piko dispatcher's bundle: objectStore() resources are opened by job functions " +
        'and Fargate stages only (bundle this function with lambdaBundling({ objectStoreSdk: true }))',
    );
  }
}
module.exports = { S3Client };
