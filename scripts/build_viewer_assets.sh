#!/usr/bin/env bash
# Install the run viewer's pinned front-end files (KaTeX, from agentverse/view/frontend/package-lock.json)
# into agentverse/view/static/vendor, from where the installed package serves them: nothing is fetched
# from the internet when the viewer runs. Needs Node.js and npm (once, at install time).
# Usage: bash scripts/build_viewer_assets.sh
set -euo pipefail
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FRONTEND="${ROOT}/agentverse/view/frontend"
TARGET="${ROOT}/agentverse/view/static/vendor/katex"
if ! command -v npm >/dev/null 2>&1; then
  echo "build_viewer_assets: npm not found; the viewer will show math as TeX source (install Node.js, rerun)" >&2
  exit 1
fi
(cd "${FRONTEND}" && npm ci --no-audit --no-fund --silent)
DIST="${FRONTEND}/node_modules/katex/dist"
mkdir -p "${ROOT}/agentverse/view/static"
STAGE="$(mktemp -d "${ROOT}/agentverse/view/static/.katex-XXXXXX")"
trap 'rm -rf "${STAGE}"' EXIT
mkdir -p "${STAGE}/fonts" "${STAGE}/contrib"
cp "${DIST}/katex.min.js" "${DIST}/katex.min.css" "${STAGE}/"
cp "${DIST}/contrib/auto-render.min.js" "${STAGE}/contrib/"
cp "${DIST}"/fonts/*.woff2 "${STAGE}/fonts/"
cp "${FRONTEND}/node_modules/katex/LICENSE" "${STAGE}/LICENSE"
mkdir -p "$(dirname "${TARGET}")"
rm -rf "${TARGET}"
mv "${STAGE}" "${TARGET}"
trap - EXIT
echo "viewer assets: KaTeX $(node -p "require('${DIST}/../package.json').version") in ${TARGET}"
