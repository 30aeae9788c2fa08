#!/usr/bin/env bash
# Fill the caches the CPU recipe smoke tests need, so they need not build them on their own time:
# the embedded SmolLM2 converted to a Hugging Face folder (.cache/smollm2-hf) and DeepSpeed's CPU
# shared-memory communication op, which ZeRO-3 under torchrun compiles on first use (about a
# minute on 2 cores) into .cache/torch_extensions, where run/train.sh looks for it.
# CI converts the model in the background while the main suite runs (`--model-only`: compiling the
# op there as well slowed the suite by more than it saved); scripts/test_recipe.sh runs it all.
# Needs the training venv (except with --model-only).
# Usage: bash scripts/warm_recipe_caches.sh [--model-only]
set -euo pipefail
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  sed -n '2,/^[^#]/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
  exit 0
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"
PYTHON="${PYTHON:-.venv/bin/python}"
TRAIN_PYTHON="${TRAIN_PYTHON:-.venvs/train/bin/python}"

"${PYTHON}" scripts/convert_gguf_to_hf.py .cache/smollm2-hf
if [[ "${1:-}" == "--model-only" ]]; then
  exit 0
fi
# The training venv's bin first, as run/train.sh does: torch builds with the first `ninja` on PATH,
# and a build recorded by another ninja version counts as changed and is compiled again.
PATH="$(cd "$(dirname "${TRAIN_PYTHON}")" && pwd):${PATH}" \
  TORCH_EXTENSIONS_DIR="${TORCH_EXTENSIONS_DIR:-${ROOT}/.cache/torch_extensions}" "${TRAIN_PYTHON}" - <<'PY'
from deepspeed.ops.op_builder.cpu import ShareMemCommBuilder

ShareMemCommBuilder().load()
print("deepspeed_shm_comm ready")
PY
