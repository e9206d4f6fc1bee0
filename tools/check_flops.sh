#!/usr/bin/env bash
# The PyTorch FLOP counter still agrees with the committed goldens that
# ShrinkPlanTests compares ReasonerCost against (about 35 s on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv-tools/bin/python tools/count_flops.py --check
