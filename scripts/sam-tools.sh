#!/usr/bin/env bash
# AWS SAM tooling in its own virtualenv, kept apart from the project's .venv: aws-sam-cli pins
# exact boto3, pydantic and click versions that must never leak into what the tests run against.
#
#   scripts/sam-tools.sh validate   sam validate --lint, then cfn-lint (no AWS credentials needed)
#   scripts/sam-tools.sh build      sam build without Docker, then the unzipped size of each artifact
#   scripts/sam-tools.sh sam ARGS   any other sam command from the same virtualenv
#
# The virtualenv (.sam-venv/ at the repo root) is created on first use and reused while the pinned
# versions below stay the same, so a second run installs nothing.
# Environment: SAM_TOOLS_PYTHON (interpreter for the venv, default python3), AWS_DEFAULT_REGION.
set -euo pipefail

readonly SAM_CLI_VERSION="1.170.0"
readonly CFN_LINT_VERSION="1.58.0"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly VENV="$ROOT/.sam-venv"
readonly TEMPLATE="$ROOT/template.yaml"
readonly STAMP="$VENV/.installed-sam-${SAM_CLI_VERSION}-cfn-lint-${CFN_LINT_VERSION}"

# Validation runs offline; the region only has to be a real one for the linter's rules.
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
export SAM_CLI_TELEMETRY=0
export PIP_DISABLE_PIP_VERSION_CHECK=1

log() { printf 'sam-tools: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

ensure_venv() {
  if [[ -f "$STAMP" && -x "$VENV/bin/sam" && -x "$VENV/bin/cfn-lint" ]]; then
    return
  fi
  local python="${SAM_TOOLS_PYTHON:-python3}"
  command -v "$python" >/dev/null 2>&1 || die "$python not found (set SAM_TOOLS_PYTHON)"
  log "creating $VENV with aws-sam-cli $SAM_CLI_VERSION and cfn-lint $CFN_LINT_VERSION"
  rm -rf "$VENV"
  "$python" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet \
    "aws-sam-cli==$SAM_CLI_VERSION" "cfn-lint==$CFN_LINT_VERSION"
  touch "$STAMP"
}

# sam build without Docker needs each runtime's interpreter (python3.13 for runtime python3.13) on
# PATH to pip-install a function's own requirements.txt. Where it is missing, take it from pyenv's
# versions (shims alone are not enough: a shim refuses a version that is not selected).
ensure_runtime_interpreters() {
  local runtime version candidate found
  for runtime in $(grep -oE '\bpython3\.[0-9]+\b' "$TEMPLATE" | sort -u); do
    version="${runtime#python}"
    if "$runtime" -c 'import sys' >/dev/null 2>&1; then
      continue
    fi
    found=""
    for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$version".*/bin; do
      if [[ -x "$candidate/$runtime" ]]; then
        found="$candidate" # the glob sorts, so the newest patch release wins
      fi
    done
    if [[ -z "$found" ]]; then
      # Only a function with a requirements.txt of its own needs it; the layer's Makefile does not.
      log "warning: no $runtime found; sam build fails if a function of that runtime has a requirements.txt"
      continue
    fi
    log "using $found/$runtime for runtime $runtime"
    PATH="$found:$PATH"
  done
  export PATH
}

validate() {
  ensure_venv
  cd "$ROOT"
  log "sam validate --lint"
  "$VENV/bin/sam" validate --lint --template "$TEMPLATE" --region "$AWS_DEFAULT_REGION"
  log "cfn-lint"
  "$VENV/bin/cfn-lint" --regions "$AWS_DEFAULT_REGION" -- "$TEMPLATE"
  log "template is valid: sam validate and cfn-lint found no errors and no warnings"
}

report_sizes() {
  local build_dir="$ROOT/.aws-sam/build"
  [[ -d "$build_dir" ]] || die "no $build_dir"
  printf '\nUnzipped size of each built artifact (du -sh):\n'
  local dir
  for dir in "$build_dir"/*/; do
    du -sh "${dir%/}" | sed "s|$build_dir/||"
  done
}

# What must (and must not) be in the artifacts: the layer carries the shared package and its
# dependencies with pydantic-core compiled for arm64; nothing carries boto3, botocore, tests or devtools.
check_artifacts() {
  local build_dir="$ROOT/.aws-sam/build" site="$ROOT/.aws-sam/build/SharedLayer/python" name
  for name in shared aws_lambda_powertools pydantic pydantic_core; do
    [[ -d "$site/$name" ]] || die "$name is missing from the SharedLayer"
  done
  compgen -G "$site/pydantic_core/_pydantic_core.cpython-313-aarch64-linux-gnu.so" >/dev/null ||
    die "the SharedLayer has no pydantic_core extension for aarch64 / CPython 3.13"
  local found
  found="$(find "$build_dir" -mindepth 2 -type d \( -iname 'boto3' -o -iname 'boto3-*' \
    -o -iname 'botocore' -o -iname 'botocore-*' -o -iname 's3transfer' -o -iname 's3transfer-*' \) -print)"
  [[ -z "$found" ]] || die "boto3/botocore (the Lambda runtime's own) found in the artifacts: $found"
  # The project's tests and dev tooling, wherever they would land: beside a handler or atop a layer.
  found="$(find "$build_dir"/*/ "$build_dir"/*/python/ -maxdepth 1 \( -name tests -o -name devtools \
    -o -name benchmarks -o -name 'test_*.py' -o -name conftest.py \) -print 2>/dev/null || true)"
  [[ -z "$found" ]] || die "test or dev code found in the artifacts: $found"
  log "artifacts checked: shared, aws_lambda_powertools, pydantic, pydantic_core (aarch64) in the layer; no boto3, botocore, tests or devtools"
}

build() {
  ensure_venv
  ensure_runtime_interpreters
  cd "$ROOT"
  log "sam build (no container)"
  "$VENV/bin/sam" build --template "$TEMPLATE" --parallel "$@"
  check_artifacts
  report_sizes
}

main() {
  local command="${1:-}"
  [[ $# -gt 0 ]] && shift
  case "$command" in
    validate) validate "$@" ;;
    build) build "$@" ;;
    sam)
      ensure_venv
      cd "$ROOT"
      exec "$VENV/bin/sam" "$@"
      ;;
    *)
      printf 'usage: %s validate | build [sam build options] | sam ARGS...\n' "$0" >&2
      exit 2
      ;;
  esac
}

main "$@"
