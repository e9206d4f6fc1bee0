#!/usr/bin/env bash
# The HTML report in a real browser: renders every page `shrink report` makes from committed results (the
# study, a puzzle comparison, a language comparison beside llama.cpp's points, the plans) and checks each in
# headless Chromium at 1280 and 800 px (tools/check_report_browser.py: no console error, no two labels or
# legend entries overlapping, nothing wider than the window, ink in every plot, plausible height).
# Installs Debian's chromium and python3-pil when missing. PNGs are kept in ARTEFACTS (default: a folder
# under $TMPDIR), never committed.
#
# Usage: tools/check_report_browser.sh [ARTEFACTS]   (SHRINK=path: use that binary; default: debug build)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null || ! /usr/bin/python3 -c "import PIL" 2>/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium python3-pil >/dev/null
fi
if [[ -z "${SHRINK:-}" ]]; then swift build --product shrink >&2; fi
shrink="${SHRINK:-.build/debug/shrink}"
art="${1:-${TMPDIR:-/tmp}/shrink-report-browser}"
pages="$(mktemp -d)"
trap 'rm -rf "$pages"' EXIT
mkdir -p "$art"
t0=$(date +%s)
"$shrink" report study/*.json -o "$pages/study.html" --title "What survives compression: the study" >/dev/null
"$shrink" report Tests/Fixtures/report/compare_puzzles.json -o "$pages/compare_puzzles.html" >/dev/null
"$shrink" report Tests/Fixtures/report/compare_text.json Tests/Fixtures/report/points_llama.json -o "$pages/compare_text.html" >/dev/null
"$shrink" report plans/*.json -o "$pages/plans.html" >/dev/null
"$shrink" report Tests/Fixtures/report/compare_vae.json Fixtures/models/vae_tiny64/curve.json Fixtures/models/vae_vision_puzzle/curve.json \
    -o "$pages/vae.html" >/dev/null
/usr/bin/python3 tools/check_report_browser.py "$pages" "$art"
echo "check_report_browser: $(( $(date +%s) - t0 )) s in all"
