#!/usr/bin/env bash
# The prepared GPU check (issue: GPU readiness). On the lent GPU, from the repository root:
#   bash scripts/gpu-check.sh --out "$OUT"          (carry .gpu-carry, made by scripts/gpu_prepare.py)
# Anywhere, on the CPU, at toy sizes (CI runs this):
#   bash scripts/gpu-check.sh --out /tmp/gpu-check --dry-run
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 scripts/gpu_check.py "$@"
