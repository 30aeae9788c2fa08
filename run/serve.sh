#!/usr/bin/env bash
# Serve a model (by default M1-32B) with vLLM's OpenAI-compatible server.
# Usage:
#   run/serve.sh [EXTRA_VLLM_ARGS...]               foreground; Ctrl-C stops the server
#   run/serve.sh --background [EXTRA_VLLM_ARGS...]  return once it answers; the server keeps
#                                                   running, its PID is in PID_FILE
#   run/serve.sh --stop                             stop the server whose PID is in PID_FILE
#   run/serve.sh --dry-run [EXTRA_VLLM_ARGS...]     print the exact command, start nothing
#   source run/serve.sh [EXTRA_VLLM_ARGS...]        start it from another launcher; it is
#                                                   stopped when that shell exits
# The base URL (http://HOST:PORT/v1) is the only line written to stdout; messages go to stderr.
# Settings (environment):
#   MODEL_PATH            checkpoint folder or hub id (default Can111/m1-32b)
#   SERVED_MODEL_NAME     name clients ask for (default m1-32b, as in the task configs)
#   TENSOR_PARALLEL_SIZE  default: the GPUs in CUDA_VISIBLE_DEVICES, else all nvidia-smi
#                         lists; 1 on CPU
#   MAX_MODEL_LEN         default 32768 (the paper's); CPU smoke runs use e.g. 2048
#   DTYPE                 default bfloat16
#   HOST, PORT            default 127.0.0.1 and 8000
#   SERVE_TIMEOUT         seconds to wait for GET /v1/models (default 900)
#   SERVE_PYTHON          interpreter with vLLM (default .venvs/serve/bin/python, else python)
#   SERVE_DEVICE          cpu or gpu (default: gpu when nvidia-smi lists one). On CPU:
#                         --enforce-eager, VLLM_CPU_KVCACHE_SPACE (default 2 GiB), and
#                         HF_HUB_OFFLINE=1 when MODEL_PATH is a local folder
#   LOG_FILE, PID_FILE    default .cache/serve/server-PORT.log and .pid
#   DATA_PARALLEL_SIZE    replicas of the model behind this one endpoint (vLLM data parallel);
#                         with TENSOR_PARALLEL_SIZE GPUs each. Across nodes also
#                         DATA_PARALLEL_SIZE_LOCAL, DATA_PARALLEL_ADDRESS, DATA_PARALLEL_RPC_PORT and
#                         DATA_PARALLEL_START_RANK (one launch per node; nodes after the first are
#                         headless). PIPELINE_PARALLEL_SIZE: see run/serve_ray_cluster.sh.
#   THINKING_BUDGET=1     accept per-request thinking budgets (llm.budget_forcing: server)
# Two models side by side (a mixed team, e.g. a small CEO beside M1-32B): one launch per model, each
# on its own GPUs and port (PID_FILE and LOG_FILE follow PORT), then name the second in the run:
#   CUDA_VISIBLE_DEVICES=0,1,2,3 PORT=8000 run/serve.sh --background
#   CUDA_VISIBLE_DEVICES=4 PORT=8001 MODEL_PATH=Qwen/Qwen2.5-7B-Instruct SERVED_MODEL_NAME=qwen2.5-7b \
#     run/serve.sh --background
#   (run/inference.sh shows the run; PORT=8001 run/serve.sh --stop stops the second)
# vLLM reads VLLM_API_KEY itself when set; this script never writes it anywhere.
# Set up the interpreter first: bash scripts/setup_serve_env.sh

SERVE_SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=run/lib.sh
source "${SERVE_SCRIPT_DIR}/lib.sh"

if [[ "${BASH_SOURCE[0]}" != "${0}" ]]; then
  # Sourced: the calling shell owns the server (its traps stop it); leave its options alone.
  start_server "$@" && echo "${SERVER_BASE_URL}"
  return $?
fi

set -euo pipefail

mode="foreground"
case "${1:-}" in
  --background) mode="background"; shift ;;
  --stop) mode="stop"; shift ;;
  --dry-run) mode="dry-run"; shift ;;
  -h | --help) sed -n '2,/^$/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac

if serve_headless; then
  if [[ "${mode}" == "background" ]]; then
    echo "DATA_PARALLEL_START_RANK=${DATA_PARALLEL_START_RANK}: a headless node serves no API to wait for;" \
      "run it in the foreground (or under nohup / srun)" >&2
    exit 2
  fi
  if [[ "${mode}" == "foreground" ]]; then mode="headless"; fi
fi

case "${mode}" in
  dry-run)
    serve_command_line "$@"
    ;;
  headless)
    # Engines only: the API server on the first node talks to them; nothing here to wait for.
    serve_defaults
    serve_environment
    serve_args "$@"
    echo "starting headless vLLM engines (data-parallel ranks from ${DATA_PARALLEL_START_RANK})" >&2
    exec "${SERVE_PYTHON}" -m vllm.entrypoints.openai.api_server "${SERVE_ARGS[@]}"
    ;;
  stop)
    serve_defaults
    if [[ ! -f "${PID_FILE}" ]]; then
      echo "no PID file ${PID_FILE}: nothing to stop" >&2
      exit 0
    fi
    stop_server "$(cat "${PID_FILE}")"
    ;;
  background)
    SERVE_KEEP=1 start_server "$@"
    echo "server pid ${SERVER_PID} in ${PID_FILE}; stop it with: PORT=${PORT} run/serve.sh --stop" >&2
    echo "${SERVER_BASE_URL}"
    ;;
  foreground)
    start_server "$@"
    echo "${SERVER_BASE_URL}"
    echo "serving until Ctrl-C" >&2
    status=0
    wait "${SERVER_PID}" || status=$?
    echo "vLLM exited with status ${status}; last lines of ${LOG_FILE}:" >&2
    tail -n 20 "${LOG_FILE}" >&2 || true
    exit "${status}"
    ;;
esac
