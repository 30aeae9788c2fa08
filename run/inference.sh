#!/usr/bin/env bash
# Run one benchmark (or all six) with the multi-agent loop, grade it and write the report.
# Usage:
#   bash run/inference.sh                          # HumanEval, 5 problems, embedded SmolLM2 (CPU)
#   MODEL=m1-32b DATASET=aime2024 bash run/inference.sh      # the paper's setting (starts vLLM)
#   MODEL=m1-32b BASE_URL=http://gpu-node:8000/v1 bash run/inference.sh --all
#   bash run/inference.sh [--all] [--dry-run] [extra agentverse-benchmark options, e.g. --single-agent --runs 3]
#   --dry-run prints the commands (server and benchmark) it would run, and runs nothing
#   --help prints this header and runs nothing
# Settings (environment):
#   MODEL        task-config model folder: smollm2 (default) or m1-32b
#   DATASET      aime2024 | math500 | gpqa_diamond | humaneval (default) | mbpp_sanitized | commongen
#   LIMIT        first N problems (default 5 for smollm2, all otherwise)
#   BASE_URL     an OpenAI-compatible endpoint (several: space-separated); when empty, a server is
#                started (SERVE=vllm) or, for smollm2 without a vLLM install, the model runs in-process
#   ENDPOINTS_FILE  a file of base URLs, one per line, reread while running (e.g. written by
#                run/slurm/serve.sbatch as replicas come up); instead of BASE_URL
#   SERVE        auto (default) | vllm | none (in-process transformers backend, smollm2 only)
#   SERVED_MODEL_NAME  the model name the endpoint serves (default m1-32b, or smollm2)
#   MODEL_PATH   what vLLM serves (default Can111/m1-32b; for smollm2 the converted .cache/smollm2-hf)
#   CONCURRENCY  problems in flight (default with a server: the endpoints' request caps summed;
#                8 in-process: the embedded backend batches them)
#   RUN_ROOT     where run directories go (default outputs/inference/MODEL)
#   PYTHON       interpreter with this project installed (default .venv/bin/python, else python3)
#   Server settings (TENSOR_PARALLEL_SIZE, MAX_MODEL_LEN, PORT, ...) are those of run/serve.sh.
# A mixed team (a role on another model): serve both (run/serve.sh's header shows two servers on
# ports 8000 and 8001), then pass the second endpoint and the role through to agentverse-benchmark:
#   MODEL=m1-32b BASE_URL=http://127.0.0.1:8000/v1 bash run/inference.sh \
#     --endpoint small=qwen2.5-7b@http://127.0.0.1:8001/v1 --agent-endpoint ceo=small
#   (repeatable; `endpoints:` and `agents[i].endpoint` in a task config do the same, and
#   documentation/serving.md has the details)
set -euo pipefail
if [[ " $* " == *" --help "* || " $* " == *" -h "* ]]; then
  sed -n '2,/^[^#]/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
  exit 0
fi
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
dry_run=0
for argument in "$@"; do
  case "${argument}" in
    --all) datasets=("${ALL_DATASETS[@]}") ;;
    --dry-run) dry_run=1 ;;
    *) extra+=("${argument}") ;;
  esac
done

model_args=()
if [[ -n "${ENDPOINTS_FILE:-}" ]]; then
  model_args+=(--endpoints-file "${ENDPOINTS_FILE}" --model "${SERVED_MODEL_NAME}")
elif [[ -n "${BASE_URL:-}" ]]; then
  for url in ${BASE_URL}; do model_args+=(--base-url "${url}"); done
  model_args+=(--model "${SERVED_MODEL_NAME}")
else
  if [[ "${SERVE}" == "auto" ]]; then
    if [[ "${MODEL}" == "smollm2" && ! -x .venvs/serve/bin/python ]]; then SERVE=none; else SERVE=vllm; fi
  fi
  if [[ "${SERVE}" == "vllm" ]]; then
    if [[ "${MODEL}" == "smollm2" && ! -f "${MODEL_PATH}/config.json" && "${dry_run}" == "0" ]]; then
      "${PYTHON}" scripts/convert_gguf_to_hf.py "${MODEL_PATH}"
    fi
    # shellcheck source=run/lib.sh
    source run/lib.sh
    if [[ "${dry_run}" == "1" ]]; then
      echo "+ $(serve_command_line)"
      serve_defaults
      SERVER_BASE_URL="http://${HOST}:${PORT}/v1"
    else
      start_server   # its trap stops the server when this script exits
    fi
    model_args+=(--base-url "${SERVER_BASE_URL}" --model "${SERVED_MODEL_NAME}")
    if [[ "${MODEL}" == "smollm2" ]]; then model_args+=(--context-length "${MAX_MODEL_LEN}"); fi
  elif [[ "${SERVE}" != "none" ]]; then
    echo "SERVE must be auto, vllm or none (got ${SERVE})" >&2
    exit 2
  fi
fi
if [[ ${#model_args[@]} -eq 0 ]]; then CONCURRENCY="${CONCURRENCY:-8}"; fi

run_dirs=()
for dataset in "${datasets[@]}"; do
  run_dir="${RUN_ROOT}/${dataset}"
  echo "== ${dataset} with ${MODEL} -> ${run_dir}" >&2
  command=("${PYTHON}" -m agentverse_command.benchmark --task "tasksolving/${dataset}/${MODEL}" --run-dir "${run_dir}")
  if [[ -n "${CONCURRENCY:-}" ]]; then command+=(--concurrency "${CONCURRENCY}"); fi
  if [[ -n "${LIMIT}" ]]; then command+=(--limit "${LIMIT}"); fi
  command+=("${model_args[@]}" "${extra[@]}")
  printf -v quoted ' %q' "${command[@]}"
  if [[ "${dry_run}" == "1" ]]; then
    echo "+${quoted}"
  else
    echo "+${quoted}" >&2
    "${command[@]}"
  fi
  run_dirs+=("${run_dir}")
done
# The run root's report is rewritten on every run (--force): it describes that root's run directories.
report=("${PYTHON}" -m agentverse_command.report "${run_dirs[@]}" --out "${RUN_ROOT}/report" --force)
printf -v quoted ' %q' "${report[@]}"
if [[ "${dry_run}" == "1" ]]; then echo "+${quoted}"; else "${report[@]}"; fi
