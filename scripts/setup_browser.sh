#!/usr/bin/env bash
# Install what the viewer's browser tests need: Debian's Chromium (headless) and the Playwright
# Python package pointed at it (Playwright's own browser download is not used).
# Usage: bash scripts/setup_browser.sh [VENV_DIR]   (needs root or sudo for apt-get)
set -euo pipefail
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
VENV_DIR="${1:-${VENV_DIR:-.venv}}"
PLAYWRIGHT_VERSION="${PLAYWRIGHT_VERSION:-1.65.2}"
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""
  [[ "$(id -u)" == "0" ]] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  ${SUDO} apt-get update -qq
  ${SUDO} apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi
"${VENV_DIR}/bin/python" -m pip install -q "playwright==${PLAYWRIGHT_VERSION}"
echo "browser: $(chromium --version)"
