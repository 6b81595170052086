#!/usr/bin/env bash
# Deploys the Piko stack to LocalStack (localstack-compose.yml): `npm run deploy:local`.
#
# Uses aws-cdk-local (cdklocal), pinned and fetched by npx (it is not a dependency of the project),
# over the project's own aws-cdk. `--plain-cdk` uses `npx cdk` with the same environment instead:
# for aws-cdk CLIs newer than 2.177, cdklocal does nothing more than set it.
#
# Safe by construction: dummy credentials, every other AWS_* variable (profile, session token, …)
# removed, and the endpoint pointed at LocalStack, so it cannot reach a real AWS account.
#
#   scripts/deploy-local.sh [--plain-cdk] [extra `cdk deploy` arguments…]
# Environment: AWS_REGION (default us-east-1), PIKO_AWS__STACK_NAME (default Piko),
#   LOCALSTACK_ENDPOINT (default http://localhost.localstack.cloud:4566), LOCALSTACK_S3_ENDPOINT
#   (default: the endpoint with the host s3.localhost.localstack.cloud).
set -euo pipefail
cd "$(dirname "$0")/.."

CDK_LOCAL_VERSION=3.0.4
cdk_cmd=(npx --yes "aws-cdk-local@${CDK_LOCAL_VERSION}")
if [[ "${1:-}" == "--plain-cdk" ]]; then
  cdk_cmd=(npx --no-install cdk)
  shift
fi

region="${AWS_REGION:-us-east-1}"
stack="${PIKO_AWS__STACK_NAME:-Piko}"
endpoint="${LOCALSTACK_ENDPOINT:-http://localhost.localstack.cloud:4566}"
account=000000000000   # LocalStack's default account

# Only LocalStack: drop every AWS_* setting that could point the deploy elsewhere.
for name in $(compgen -e | grep '^AWS_' || true); do unset "$name"; done
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
export AWS_REGION="$region" AWS_DEFAULT_REGION="$region"
export AWS_ENDPOINT_URL="$endpoint"
# S3 (the CDK asset bucket) needs a host whose subdomains resolve: cdklocal insists on it too.
export AWS_ENDPOINT_URL_S3="${LOCALSTACK_S3_ENDPOINT:-${endpoint/:\/\/localhost.localstack.cloud/://s3.localhost.localstack.cloud}}"
# cdklocal removes AWS_* variables it is not told to keep.
export AWS_ENVAR_ALLOWLIST=AWS_REGION,AWS_DEFAULT_REGION,AWS_ACCESS_KEY_ID,AWS_SECRET_ACCESS_KEY
# cdklocal loads aws-cdk with require(): let it find the project's pinned CLI.
export NODE_PATH="$PWD/node_modules${NODE_PATH:+:$NODE_PATH}"

if ! curl -fsS "${endpoint}/_localstack/health" >/dev/null; then
  echo "LocalStack does not answer at ${endpoint}: start it with" >&2
  echo "  LOCALSTACK_AUTH_TOKEN=… docker compose -f localstack-compose.yml up -d --wait" >&2
  exit 1
fi

echo "Deploying stack ${stack} to LocalStack at ${endpoint} (account ${account}, region ${region}) with ${cdk_cmd[*]}"
"${cdk_cmd[@]}" bootstrap "aws://${account}/${region}" -c "piko:stackName=${stack}"
"${cdk_cmd[@]}" deploy "${stack}" -c "piko:stackName=${stack}" --require-approval never \
  --outputs-file cdk.out/localstack-outputs.json "$@"

cat <<NEXT

Deployed. LocalStack's EventBridge Scheduler does not fire schedules: make a tick yourself with
  AWS_ENDPOINT_URL=${endpoint} AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \\
    npx piko dispatch <job> --aws --region ${region} --stack-name ${stack}
NEXT
