#!/usr/bin/env bash
# Deploy the web console (issue 17) of a stack that is already deployed once with sam deploy.
#
#   scripts/deploy-console.sh STACK_NAME [extra sam deploy arguments]
#
# 1. sam deploy with EnableConsole=true: the private bucket and the CloudFront distribution;
# 2. sam deploy again with ConsoleOrigin=<the ConsoleUrl output>: the API's CORS allows exactly that
#    origin (the CSP names the API and the CORS names the distribution, so one stack cannot know
#    both in one pass without a cycle: docs/decisions.md, issue 17);
# 3. writes config.js (the ApiUrl output, MaxTokenLifetimeDays) beside a copy of console/ and syncs
#    it to the bucket: `aws s3 sync --delete`, so a removed file goes too.
# Needs the AWS CLI and scripts/sam-tools.sh (sam), with credentials for the stack's account.
# Every other parameter keeps its deployed value (sam deploy reads samconfig.toml and the stack).
set -euo pipefail

[[ $# -ge 1 ]] || { echo "usage: $0 STACK_NAME [sam deploy arguments]" >&2; exit 2; }
stack=$1
shift
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
sam() { "$ROOT/scripts/sam-tools.sh" sam "$@"; }
output() {
  aws cloudformation describe-stacks --stack-name "$stack" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}
parameter() {
  aws cloudformation describe-stacks --stack-name "$stack" \
    --query "Stacks[0].Parameters[?ParameterKey=='$1'].ParameterValue" --output text
}

sam deploy --stack-name "$stack" --no-fail-on-empty-changeset "$@" --parameter-overrides EnableConsole=true
origin=$(output ConsoleUrl)
sam deploy --stack-name "$stack" --no-fail-on-empty-changeset "$@" \
  --parameter-overrides EnableConsole=true "ConsoleOrigin=$origin"

site=$(mktemp -d)
trap 'rm -rf "$site"' EXIT
cp "$ROOT"/console/*.html "$ROOT"/console/*.js "$ROOT"/console/*.css "$site"/
printf 'export default %s;\n' \
  "$(python3 -c 'import json, sys; print(json.dumps({"apiUrl": sys.argv[1], "maxTokenLifetimeDays": int(sys.argv[2])}))' \
    "$(output ApiUrl)" "$(parameter MaxTokenLifetimeDays)")" > "$site/config.js"
aws s3 sync "$site" "s3://$(output ConsoleBucketName)" --delete --cache-control no-store
echo "The console: $origin"
