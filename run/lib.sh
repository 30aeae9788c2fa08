# shellcheck shell=bash
# Shell helpers for launchers that need a vLLM server: source this file, do not run it.
#   source run/lib.sh
#   start_server            # starts vLLM in the background, waits for /v1/models, sets
#                           # SERVER_PID and SERVER_BASE_URL, installs a trap that stops it
#   ...                     # talk to "${SERVER_BASE_URL}" (OpenAI-compatible, ends in /v1)
#   stop_server             # optional: the trap also calls it when the shell exits
#   wait_for_server URL TIMEOUT [PID]   # poll URL/v1/models until it answers
# Settings (environment, all optional; see run/serve.sh for the meaning of each):
#   MODEL_PATH SERVED_MODEL_NAME TENSOR_PARALLEL_SIZE MAX_MODEL_LEN DTYPE HOST PORT
#   SERVE_TIMEOUT SERVE_PYTHON SERVE_DEVICE LOG_FILE PID_FILE VLLM_CPU_KVCACHE_SPACE
#   SERVE_KEEP=1: once the server answers, start_server removes its traps and the server
#     outlives this shell (stop it with stop_server PID or run/serve.sh --stop).
# start_server sets the shell's EXIT/INT/TERM traps: a caller with cleanup of its own should
# set its traps after start_server and call stop_server in them (stop_server is idempotent).
# Sourcing defines functions only: nothing starts, nothing is read until a function runs.

serve_repo_root() {
  cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd
}

# "gpu" when nvidia-smi lists a GPU, else "cpu"; SERVE_DEVICE overrides.
serve_device() {
  if [[ -n "${SERVE_DEVICE:-}" ]]; then
    echo "${SERVE_DEVICE}"
  elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then
    echo gpu
  else
    echo cpu
  fi
}

# GPUs this server may use: CUDA_VISIBLE_DEVICES when set (one replica per GPU group), else
# every GPU nvidia-smi lists.
serve_gpu_count() {
  if [[ -n "${CUDA_VISIBLE_DEVICES:-}" ]]; then
    local devices
    IFS=, read -r -a devices <<<"${CUDA_VISIBLE_DEVICES}"
    echo "${#devices[@]}"
  elif command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true
  else
    echo 0
  fi
}

# True while PID is a live process (a zombie waiting to be reaped counts as gone).
serve_process_alive() {
  local pid="$1"
  kill -0 "${pid}" 2>/dev/null || return 1
  if [[ -r "/proc/${pid}/stat" ]]; then
    # Field 3 of /proc/PID/stat is the state; the command name before it may hold spaces.
    local stat
    stat="$(cat "/proc/${pid}/stat" 2>/dev/null)" || return 1
    stat="${stat##*) }"
    [[ "${stat:0:1}" != "Z" ]] || return 1
  fi
  return 0
}

# True while any live process is left in process group PGID (the server and its engine workers).
serve_group_alive() {
  local pgid="$1" member
  for member in $(pgrep -g "${pgid}" 2>/dev/null); do
    if serve_process_alive "${member}"; then
      return 0
    fi
  done
  return 1
}

# Exit status 0 when URL/v1/models answers with HTTP 200.
serve_models_answer() {
  local base="${1%/}"
  base="${base%/v1}"
  if command -v curl >/dev/null 2>&1; then
    curl --silent --fail --max-time 5 --output /dev/null "${base}/v1/models"
  else
    "${SERVE_PYTHON:-python3}" - "${base}/v1/models" <<'PY'
import sys
import urllib.request

with urllib.request.urlopen(sys.argv[1], timeout=5) as response:
    sys.exit(0 if response.status == 200 else 1)
PY
  fi
}

# wait_for_server URL TIMEOUT_SECONDS [PID]
# Poll URL/v1/models every SERVE_POLL_INTERVAL seconds (default 2) until it answers.
# Returns 1 after TIMEOUT_SECONDS, or at once when PID (the server) is given and has exited.
wait_for_server() {
  local url="$1" timeout="${2:-900}" pid="${3:-}"
  local deadline=$((SECONDS + timeout))
  until serve_models_answer "${url}" 2>/dev/null; do
    if [[ -n "${pid}" ]] && ! serve_process_alive "${pid}"; then
      echo "server process ${pid} exited before answering at ${url}" >&2
      return 1
    fi
    if ((SECONDS >= deadline)); then
      echo "no answer from ${url}/v1/models within ${timeout} s" >&2
      return 1
    fi
    sleep "${SERVE_POLL_INTERVAL:-2}"
  done
}

# stop_server [PID]: stop the server (default SERVER_PID) and its process group; idempotent.
# SIGTERM first so vLLM shuts its engine down; SIGKILL to what is left after SERVE_STOP_TIMEOUT.
stop_server() {
  local pid="${1:-${SERVER_PID:-}}"
  local grace="${SERVE_STOP_TIMEOUT:-30}"
  [[ -n "${pid}" ]] || return 0
  if serve_process_alive "${pid}" || serve_group_alive "${pid}"; then
    echo "stopping vLLM server (pid ${pid})" >&2
    kill -TERM "${pid}" 2>/dev/null || true
    local deadline=$((SECONDS + grace))
    while (serve_process_alive "${pid}" || serve_group_alive "${pid}") && ((SECONDS < deadline)); do
      sleep 0.5
    done
    if serve_process_alive "${pid}" || serve_group_alive "${pid}"; then
      echo "server ${pid} still running after ${grace} s: SIGKILL to its process group" >&2
      kill -KILL -- "-${pid}" 2>/dev/null || kill -KILL "${pid}" 2>/dev/null || true
    fi
  fi
  # Reap it when it is this shell's child; harmless otherwise.
  wait "${pid}" 2>/dev/null || true
  if [[ -n "${PID_FILE:-}" && -f "${PID_FILE}" && "$(cat "${PID_FILE}" 2>/dev/null)" == "${pid}" ]]; then
    rm -f "${PID_FILE}"
  fi
  if [[ "${pid}" == "${SERVER_PID:-}" ]]; then
    SERVER_PID=""
  fi
}

# Fill in the defaults for every setting start_server reads (keeps values already set).
serve_defaults() {
  local root
  root="$(serve_repo_root)"
  SERVE_ROOT="${root}"
  SERVE_DEVICE="$(serve_device)"
  MODEL_PATH="${MODEL_PATH:-Can111/m1-32b}"
  SERVED_MODEL_NAME="${SERVED_MODEL_NAME:-m1-32b}"
  local name
  for name in DATA_PARALLEL_SIZE DATA_PARALLEL_SIZE_LOCAL PIPELINE_PARALLEL_SIZE TENSOR_PARALLEL_SIZE; do
    if [[ -n "${!name:-}" && ! "${!name}" =~ ^[1-9][0-9]*$ ]]; then
      echo "${name} must be a positive whole number, got '${!name}'" >&2
      return 2
    fi
  done
  if [[ "${SERVE_DEVICE}" == "gpu" ]]; then
    # Every GPU of the node, shared among the data-parallel replicas this node runs.
    local replicas="${DATA_PARALLEL_SIZE_LOCAL:-${DATA_PARALLEL_SIZE:-1}}"
    TENSOR_PARALLEL_SIZE="${TENSOR_PARALLEL_SIZE:-$(($(serve_gpu_count) / replicas))}"
    if [[ "${TENSOR_PARALLEL_SIZE}" == "0" ]]; then
      TENSOR_PARALLEL_SIZE=1
    fi
  else
    TENSOR_PARALLEL_SIZE="${TENSOR_PARALLEL_SIZE:-1}"
  fi
  MAX_MODEL_LEN="${MAX_MODEL_LEN:-32768}"
  DTYPE="${DTYPE:-bfloat16}"
  HOST="${HOST:-127.0.0.1}"
  PORT="${PORT:-8000}"
  SERVE_TIMEOUT="${SERVE_TIMEOUT:-900}"
  if [[ -z "${SERVE_PYTHON:-}" ]]; then
    if [[ -x "${root}/.venvs/serve/bin/python" ]]; then
      SERVE_PYTHON="${root}/.venvs/serve/bin/python"
    else
      SERVE_PYTHON="python"
    fi
  fi
  LOG_FILE="${LOG_FILE:-${root}/.cache/serve/server-${PORT}.log}"
  PID_FILE="${PID_FILE:-${root}/.cache/serve/server-${PORT}.pid}"
}

# serve_args [EXTRA_VLLM_ARGS...]: the vLLM arguments for the settings, in the array SERVE_ARGS.
# Scale-out settings (vLLM's own machinery; unset means off):
#   DATA_PARALLEL_SIZE        engine replicas behind one API endpoint (--data-parallel-size)
#   DATA_PARALLEL_SIZE_LOCAL  replicas on this node, when the replicas span nodes
#   DATA_PARALLEL_ADDRESS     the first node's address, DATA_PARALLEL_RPC_PORT its port
#   DATA_PARALLEL_START_RANK  the first replica rank on this node; above 0 the node runs its
#                             engines only (--headless): the API is served by the first node
#   PIPELINE_PARALLEL_SIZE    pipeline stages (one per node of a Ray cluster; see serve_ray_cluster.sh)
#   THINKING_BUDGET=1         enable vLLM's per-request thinking_token_budget (--reasoning-config
#                             with <think> ... </think>), for llm.budget_forcing: server
serve_args() {
  SERVE_ARGS=(
    --model "${MODEL_PATH}"
    --served-model-name "${SERVED_MODEL_NAME}"
    --host "${HOST}"
    --port "${PORT}"
    --dtype "${DTYPE}"
    --max-model-len "${MAX_MODEL_LEN}"
    --tensor-parallel-size "${TENSOR_PARALLEL_SIZE}"
    --enable-prefix-caching
  )
  if [[ "${SERVE_DEVICE}" == "cpu" ]]; then
    # CPU graph compilation triples startup (about 84 s against 28 s) for a smoke server.
    SERVE_ARGS+=(--enforce-eager)
  fi
  if [[ -n "${DATA_PARALLEL_SIZE:-}" ]]; then
    SERVE_ARGS+=(--data-parallel-size "${DATA_PARALLEL_SIZE}")
  fi
  if [[ -n "${DATA_PARALLEL_SIZE_LOCAL:-}" ]]; then
    SERVE_ARGS+=(--data-parallel-size-local "${DATA_PARALLEL_SIZE_LOCAL}")
  fi
  if [[ -n "${DATA_PARALLEL_ADDRESS:-}" ]]; then
    SERVE_ARGS+=(--data-parallel-address "${DATA_PARALLEL_ADDRESS}")
  fi
  if [[ -n "${DATA_PARALLEL_RPC_PORT:-}" ]]; then
    SERVE_ARGS+=(--data-parallel-rpc-port "${DATA_PARALLEL_RPC_PORT}")
  fi
  if [[ -n "${DATA_PARALLEL_START_RANK:-}" ]]; then
    SERVE_ARGS+=(--data-parallel-start-rank "${DATA_PARALLEL_START_RANK}")
    if [[ "${DATA_PARALLEL_START_RANK}" != "0" ]]; then
      SERVE_ARGS+=(--headless)
    fi
  fi
  if [[ -n "${PIPELINE_PARALLEL_SIZE:-}" && "${PIPELINE_PARALLEL_SIZE}" != "1" ]]; then
    SERVE_ARGS+=(--pipeline-parallel-size "${PIPELINE_PARALLEL_SIZE}" --distributed-executor-backend ray)
  fi
  if [[ "${THINKING_BUDGET:-0}" == "1" ]]; then
    SERVE_ARGS+=(--reasoning-config '{"reasoning_start_str": "<think>", "reasoning_end_str": "</think>"}')
  fi
  SERVE_ARGS+=("$@")
}

# serve_headless: this node runs data-parallel engines only (no API server to wait for).
serve_headless() {
  [[ -n "${DATA_PARALLEL_START_RANK:-}" && "${DATA_PARALLEL_START_RANK}" != "0" ]]
}

# serve_command_line [EXTRA_VLLM_ARGS...]: the exact command start_server runs, shell-quoted.
serve_command_line() {
  serve_defaults
  serve_args "$@"
  local quoted
  printf -v quoted ' %q' "${SERVE_PYTHON}" -m vllm.entrypoints.openai.api_server "${SERVE_ARGS[@]}"
  echo "${quoted# }"
}

# Export the environment the server process runs with: caches inside the repo's ignored .cache/.
serve_environment() {
  local cache="${SERVE_ROOT}/.cache"
  export VLLM_CACHE_ROOT="${VLLM_CACHE_ROOT:-${cache}/vllm}"
  export VLLM_CONFIG_ROOT="${VLLM_CONFIG_ROOT:-${cache}/vllm-config}"
  export TORCHINDUCTOR_CACHE_DIR="${TORCHINDUCTOR_CACHE_DIR:-${cache}/torchinductor}"
  export TRITON_CACHE_DIR="${TRITON_CACHE_DIR:-${cache}/triton}"
  export VLLM_NO_USAGE_STATS="${VLLM_NO_USAGE_STATS:-1}"
  if [[ "${SERVE_DEVICE}" == "cpu" ]]; then
    export VLLM_CPU_KVCACHE_SPACE="${VLLM_CPU_KVCACHE_SPACE:-2}"
    # CPU smoke mode serves a local folder; never try the hub (it is not reachable there).
    if [[ -d "${MODEL_PATH}" ]]; then
      export HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}"
    fi
  fi
}

# start_server [EXTRA_VLLM_ARGS...]
# Start vLLM's OpenAI-compatible server in its own process group, write its PID to PID_FILE,
# wait until /v1/models answers (SERVE_TIMEOUT), then set SERVER_PID and SERVER_BASE_URL.
# Unless SERVE_KEEP=1, a trap on EXIT/INT/TERM of the calling shell stops it.
# On failure: prints the log's tail, stops what it started, returns 1.
start_server() {
  serve_defaults
  serve_environment
  SERVER_BASE_URL="http://${HOST}:${PORT}/v1"
  local probe_host="${HOST}"
  if [[ "${probe_host}" == "0.0.0.0" ]]; then
    probe_host="127.0.0.1"
  fi
  local probe_url="http://${probe_host}:${PORT}"
  if serve_models_answer "${probe_url}" 2>/dev/null; then
    echo "a server already answers at ${probe_url}/v1/models; choose another PORT" >&2
    return 1
  fi

  serve_args "$@"
  local args=("${SERVE_ARGS[@]}")

  mkdir -p "$(dirname "${LOG_FILE}")" "$(dirname "${PID_FILE}")" "${VLLM_CACHE_ROOT}"
  echo "starting vLLM (${SERVE_DEVICE}): model ${MODEL_PATH} as ${SERVED_MODEL_NAME}," \
    "tp ${TENSOR_PARALLEL_SIZE}, max length ${MAX_MODEL_LEN}, log ${LOG_FILE}" >&2
  # The launcher makes the server lead its own process group (so stop_server reaches the
  # engine workers too, and Ctrl-C in a terminal reaches only this script), then execs the
  # server in place: the PID we record is the server's own.
  "${SERVE_PYTHON}" -c '
import os
import sys

try:
    os.setsid()
except PermissionError:
    pass  # already leads its own process group (shell job control)
os.execv(sys.executable, [sys.executable, "-m", "vllm.entrypoints.openai.api_server", *sys.argv[1:]])
' "${args[@]}" >"${LOG_FILE}" 2>&1 </dev/null &
  SERVER_PID=$!
  echo "${SERVER_PID}" >"${PID_FILE}"
  # Until it answers, the server belongs to this shell in every mode: an interrupted or failed
  # start leaves nothing behind.
  trap 'stop_server' EXIT
  trap 'stop_server; exit 130' INT
  trap 'stop_server; exit 143' TERM

  if ! wait_for_server "${probe_url}" "${SERVE_TIMEOUT}" "${SERVER_PID}"; then
    echo "vLLM did not start; last lines of ${LOG_FILE}:" >&2
    tail -n 40 "${LOG_FILE}" >&2 || true
    stop_server "${SERVER_PID}"
    return 1
  fi
  if [[ "${SERVE_KEEP:-0}" == "1" ]]; then
    trap - EXIT INT TERM
  fi
  echo "vLLM ready (pid ${SERVER_PID}) at ${SERVER_BASE_URL}" >&2
}
