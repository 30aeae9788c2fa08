#!/usr/bin/env bash
# Run one benchmark (or all six) with the multi-agent loop, grade it and write the report.
# Usage:
#   bash run/inference.sh                          # HumanEval, 5 problems, embedded SmolLM2 (CPU)
#   MODEL=m1-32b DATASET=aime2024 bash run/inference.sh      # the paper's setting (starts vLLM)
#   MODEL=m1-32b BASE_URL=http://gpu-node:8000/v1 bash run/inference.sh --all
#   bash run/inference.sh [--all] [extra agentverse-benchmark options, e.g. --single-agent --runs 3]
# Settings (environment):
#   MODEL        task-config model folder: smollm2 (default) or m1-32b
#   DATASET      aime2024 | math500 | gpqa_diamond | humaneval (default) | mbpp_sanitized | commongen
#   LIMIT        first N problems (default 5 for smollm2, all otherwise)
#   BASE_URL     an OpenAI-compatible endpoint (several: space-separated); when empty, a server is
#                started (SERVE=vllm) or, for smollm2 without a vLLM install, the model runs in-process
#   SERVE        auto (default) | vllm | none (in-process transformers backend, smollm2 only)
#   SERVED_MODEL_NAME  the model name the endpoint serves (default m1-32b, or smollm2)
#   MODEL_PATH   what vLLM serves (default Can111/m1-32b; for smollm2 the converted .cache/smollm2-hf)
#   CONCURRENCY  problems in flight (default 64 with a server, 8 in-process: the embedded backend batches them)
#   RUN_ROOT     where run directories go (default outputs/inference/MODEL)
#   PYTHON       interpreter with this project installed (default .venv/bin/python, else python3)
#   Server settings (TENSOR_PARALLEL_SIZE, MAX_MODEL_LEN, PORT, ...) are those of run/serve.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"

ALL_DATASETS=(aime2024 math500 gpqa_diamond humaneval mbpp_sanitized commongen)
MODEL="${MODEL:-smollm2}"
DATASET="${DATASET:-humaneval}"
SERVE="${SERVE:-auto}"
RUN_ROOT="${RUN_ROOT:-outputs/inference/${MODEL}}"
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
if [[ "${MODEL}" == "smollm2" ]]; then
  LIMIT="${LIMIT-5}"
  SERVED_MODEL_NAME="${SERVED_MODEL_NAME:-smollm2}"
  MODEL_PATH="${MODEL_PATH:-${ROOT}/.cache/smollm2-hf}"
  MAX_MODEL_LEN="${MAX_MODEL_LEN:-2048}"
else
  LIMIT="${LIMIT-}"
  SERVED_MODEL_NAME="${SERVED_MODEL_NAME:-m1-32b}"
fi
export MODEL_PATH SERVED_MODEL_NAME MAX_MODEL_LEN

datasets=("${DATASET}")
extra=()
for argument in "$@"; do
  if [[ "${argument}" == "--all" ]]; then datasets=("${ALL_DATASETS[@]}"); else extra+=("${argument}"); fi
done

model_args=()
if [[ -n "${BASE_URL:-}" ]]; then
  for url in ${BASE_URL}; do model_args+=(--base-url "${url}"); done
  model_args+=(--model "${SERVED_MODEL_NAME}")
else
  if [[ "${SERVE}" == "auto" ]]; then
    if [[ "${MODEL}" == "smollm2" && ! -x .venvs/serve/bin/python ]]; then SERVE=none; else SERVE=vllm; fi
  fi
  if [[ "${SERVE}" == "vllm" ]]; then
    if [[ "${MODEL}" == "smollm2" && ! -f "${MODEL_PATH}/config.json" ]]; then
      "${PYTHON}" scripts/convert_gguf_to_hf.py "${MODEL_PATH}"
    fi
    # shellcheck source=run/lib.sh
    source run/lib.sh
    start_server   # its trap stops the server when this script exits
    model_args+=(--base-url "${SERVER_BASE_URL}" --model "${SERVED_MODEL_NAME}")
    if [[ "${MODEL}" == "smollm2" ]]; then model_args+=(--context-length "${MAX_MODEL_LEN}"); fi
  elif [[ "${SERVE}" != "none" ]]; then
    echo "SERVE must be auto, vllm or none (got ${SERVE})" >&2
    exit 2
  fi
fi
if [[ ${#model_args[@]} -gt 0 ]]; then CONCURRENCY="${CONCURRENCY:-64}"; else CONCURRENCY="${CONCURRENCY:-8}"; fi

run_dirs=()
for dataset in "${datasets[@]}"; do
  run_dir="${RUN_ROOT}/${dataset}"
  echo "== ${dataset} with ${MODEL} -> ${run_dir}" >&2
  command=("${PYTHON}" -m agentverse_command.benchmark --task "tasksolving/${dataset}/${MODEL}"
    --run-dir "${run_dir}" --concurrency "${CONCURRENCY}")
  if [[ -n "${LIMIT}" ]]; then command+=(--limit "${LIMIT}"); fi
  command+=("${model_args[@]}" "${extra[@]}")
  echo "+ ${command[*]}" >&2
  "${command[@]}"
  run_dirs+=("${run_dir}")
done
"${PYTHON}" -m agentverse_command.report "${run_dirs[@]}" --out "${RUN_ROOT}/report"
