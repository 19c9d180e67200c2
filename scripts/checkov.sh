#!/usr/bin/env bash
# checkov (an infrastructure-as-code scanner) on template.yaml, from its own virtualenv: checkov
# pins many dependencies of its own that must never leak into the project's .venv.
#
#   scripts/checkov.sh          scan; fails on any finding that is neither fixed nor skipped
#
# A finding this design rejects is skipped inside its resource, with the reason on the same line:
#   # checkov:skip=CKV_AWS_117: why
# A skip without a reason fails the run, as does any failed check. docs/decisions.md (issue 11)
# lists the reasons. The virtualenv (.checkov-venv/ at the repo root) is created on first use and
# reused while the pinned version stays the same.
# Environment: CHECKOV_PYTHON (interpreter for the venv, default python3).
set -euo pipefail

readonly CHECKOV_VERSION="3.3.30"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly VENV="$ROOT/.checkov-venv"
readonly TEMPLATE="$ROOT/template.yaml"
readonly STAMP="$VENV/.installed-checkov-${CHECKOV_VERSION}"

export PIP_DISABLE_PIP_VERSION_CHECK=1
# No calls home: no Prisma Cloud platform, no version check, no telemetry.
export BC_SKIP_MAPPING=TRUE CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false

log() { printf 'checkov: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

ensure_venv() {
  if [[ -f "$STAMP" && -x "$VENV/bin/checkov" ]]; then
    return
  fi
  local python="${CHECKOV_PYTHON:-python3}"
  command -v "$python" >/dev/null 2>&1 || die "$python not found (set CHECKOV_PYTHON)"
  log "creating $VENV with checkov $CHECKOV_VERSION"
  rm -rf "$VENV"
  "$python" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet "checkov==$CHECKOV_VERSION"
  touch "$STAMP"
}

# Every skip must say why: `checkov:skip=<ID>: <reason>`.
check_skip_reasons() {
  local bare
  bare="$(grep -nE 'checkov:skip=CKV' "$TEMPLATE" | grep -vE 'checkov:skip=CKV2?_[A-Z0-9_]+: *[^ ]' || true)"
  [[ -z "$bare" ]] || die "a checkov skip without a reason (write '# checkov:skip=<ID>: why'):
$bare"
}

# One run, JSON out; scripts/checkov_report.py prints the findings and the figures from it.
scan() {
  ensure_venv
  check_skip_reasons
  cd "$ROOT"
  log "scanning template.yaml (checkov $CHECKOV_VERSION, CloudFormation/SAM checks)"
  local status=0
  # checkov's own exit status is 1 on findings; the report below decides, so it is not fatal here.
  "$VENV/bin/checkov" --file "$TEMPLATE" --framework cloudformation --skip-download --output json \
    | "$VENV/bin/python" "$ROOT/scripts/checkov_report.py" || status=$?
  [[ $status -eq 0 ]] || die "findings above are neither fixed nor skipped with a reason"
  log "no finding left: every check passed or is skipped with its reason"
}

main() {
  case "${1:-scan}" in
    scan) scan ;;
    *)
      printf 'usage: %s [scan]\n' "$0" >&2
      exit 2
      ;;
  esac
}

main "$@"
