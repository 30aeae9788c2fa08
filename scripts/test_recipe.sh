#!/usr/bin/env bash
# Recipe smoke tests on the CPU: set up the training and serving virtual environments
# (idempotent), convert the embedded model to a Hugging Face folder, and run the tests
# marked `recipe` (LLaMA-Factory full SFT plain and under DeepSpeed ZeRO-3 with resume;
# vLLM's CPU build serving the model; run/inference.sh end to end).
# Usage: bash scripts/test_recipe.sh [extra pytest args]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"
PYTHON="${PYTHON:-.venv/bin/python}"

bash scripts/setup_train_env.sh
bash scripts/setup_serve_env.sh
"${PYTHON}" scripts/convert_gguf_to_hf.py .cache/smollm2-hf
"${PYTHON}" -m pytest -m recipe tests/recipe "$@"
