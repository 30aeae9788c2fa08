#!/usr/bin/env bash
# Recipe smoke tests on the CPU: set up the training and serving virtual environments
# (idempotent), warm their caches (the embedded model as a Hugging Face folder, DeepSpeed's
# CPU communication op), and run the tests
# marked `recipe` (LLaMA-Factory full SFT plain and under DeepSpeed ZeRO-3 with resume;
# vLLM's CPU build serving the model; run/inference.sh end to end).
# Usage: bash scripts/test_recipe.sh [extra pytest args]
set -euo pipefail
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  sed -n '2,/^[^#]/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
  exit 0
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"
PYTHON="${PYTHON:-.venv/bin/python}"

bash scripts/setup_train_env.sh
bash scripts/setup_serve_env.sh
PYTHON="${PYTHON}" bash scripts/warm_recipe_caches.sh   # converted model, DeepSpeed CPU op (no-op when warm)
"${PYTHON}" -m pytest -m recipe tests/recipe "$@"
