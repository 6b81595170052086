import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct, type IConstruct } from 'constructs';
import { ENV_OBJECTS_BUCKET } from '../../shared/stack/env.ts';
import { acknowledge, acknowledgeFinding, acknowledgeGuardRule, arnToken } from '../nag.ts';

/** Where a job's objects live in the bucket: its own prefix, which is all it is granted. */
export function jobObjectsPrefix(jobId: string): string {
  return `jobs/${jobId}/`;
}

/** Control Tower controls the bucket does not follow, and why (docs/aws.md lists them too). */
const GUARD_REASONS: Readonly<Record<string, string>> = {
  s3_bucket_default_encryption_kms_check:
    'Every object is encrypted at rest with S3-managed keys (SSE-S3, AES-256), sent over TLS only, and readable only ' +
    'by the job that wrote it (grants per jobs/<jobId>/ prefix). SSE-KMS with the stack key would add kms:Decrypt and ' +
    'kms:GenerateDataKey to every job role and a KMS request per object for no access control the prefix grants lack.',
  s3_bucket_versioning_enabled_check:
    'Versioning is off on purpose: a retried run rewrites its object whole under the same key, so older versions are ' +
    'only failed or superseded attempts, which would accumulate cost unseen; the bucket is RETAINed with the stack. A ' +
    'deployment that wants recovery from overwrites turns versioning on with a noncurrent-version expiry rule.',
  s3_event_notifications_enabled_check:
    'Nothing consumes object events: every object a run writes is recorded with its run in the state database (the ' +
    "job's manifest row, the run's output), which is how Piko and its users find outputs.",
  s3_bucket_object_lock_enabled_check:
    'Object Lock (WORM) would stop a retried run from rewriting its own object under the same key, which is how jobs ' +
    'stay idempotent; outputs can be regenerated from their interval by a backfill.',
};

/**
 * The bucket of the jobs' `objectStore()` outputs (archives, exports): private, TLS only, encrypted
 * with S3-managed keys, unversioned (a retry rewrites an object whole; nothing to recover from older
 * versions), kept when the stack is deleted. Each job may put and get objects under its own
 * `jobs/<jobId>/` prefix only.
 */
export class JobOutputs extends Construct {
  readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: false,
      // Jobs' outputs are users' data: never deleted with the stack, never expired by Piko.
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        { id: 'AbortIncompleteUploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
    });
    const bucket = this.bucket.node.defaultChild as IConstruct;
    const accessAudit =
      'Only the Piko job roles write here, each under its own jobs/<jobId>/ prefix (a grant per job), and every ' +
      'object is also recorded by its run in the state database. S3 server access logs are best-effort and would ' +
      'need a second bucket that itself has no access logs; a deployment that must audit object access turns on ' +
      'CloudTrail data events for this bucket.';
    acknowledge(bucket, 'AwsSolutions-S1', accessAudit);
    acknowledgeGuardRule(bucket, 's3_bucket_logging_enabled_check', accessAudit);
    for (const [rule, reason] of Object.entries(GUARD_REASONS)) acknowledgeGuardRule(bucket, rule, reason);
  }

  /** `PIKO_OBJECTS__BUCKET`, for a job's function and tasks. */
  environment(): Record<string, string> {
    return { [ENV_OBJECTS_BUCKET]: this.bucket.bucketName };
  }

  /**
   * Lets `role` (a job's function or task role) put and get objects under the job's own prefix, and
   * nothing else of the bucket.
   */
  grantJob(role: iam.Role, jobId: string): void {
    const objects = `${jobObjectsPrefix(jobId)}*`;
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:PutObject', 's3:GetObject'],
        resources: [this.bucket.arnForObjects(objects)],
      }),
    );
    acknowledgeFinding(
      role,
      'AwsSolutions-IAM5',
      `Resource::${arnToken(this.bucket)}/${objects}`,
      `The job writes and reads objects whose keys it chooses at run time, all under its own prefix ` +
        `${jobObjectsPrefix(jobId)} of the job-outputs bucket; no other job's prefix and no bucket-level action.`,
    );
  }
}
