#!/usr/bin/env bash
# Serve one model across several nodes on a Ray cluster: tensor parallel within each node,
# pipeline parallel across nodes (vLLM's documented multi-node route).
# Usage (run each step on its node; add --dry-run to any step to print its commands only):
#   run/serve_ray_cluster.sh head     on the first node: start the Ray head (blocks)
#   run/serve_ray_cluster.sh worker   on every other node: join the head (blocks)
#   run/serve_ray_cluster.sh serve    on the first node, once every worker has joined: one
#                                     `vllm serve` over all nodes; prints the base URL
# Settings (environment):
#   RAY_HEAD_ADDRESS      the head node's address (default: this host's name; workers need it)
#   RAY_PORT              the head's port (default 6379)
#   NNODES                nodes in the cluster = pipeline stages (default 2)
#   GPUS_PER_NODE         GPUs of each node = tensor parallel size (default: nvidia-smi's count)
#   RAY_PYTHON            interpreter whose environment has ray and vLLM (default SERVE_PYTHON,
#                         else .venvs/serve/bin/python)
#   every run/serve.sh setting (MODEL_PATH, SERVED_MODEL_NAME, PORT, HOST, MAX_MODEL_LEN, ...)
# The nodes must share the model files (or download the same MODEL_PATH) and reach each other.
set -euo pipefail
if [[ " $* " == *" --help "* || " $* " == *" -h "* ]]; then  # anywhere: nothing may start
  sed -n '2,/^[^#]/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
  exit 0
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=run/lib.sh
source "${ROOT}/run/lib.sh"

role="${1:-}"
shift || true
dry_run=0
if [[ "${1:-}" == "--dry-run" ]]; then
  dry_run=1
  shift
fi

RAY_HEAD_ADDRESS="${RAY_HEAD_ADDRESS:-$(hostname)}"
RAY_PORT="${RAY_PORT:-6379}"
NNODES="${NNODES:-2}"
if [[ -z "${GPUS_PER_NODE:-}" ]]; then
  GPUS_PER_NODE="$(serve_gpu_count)"
  if [[ "${GPUS_PER_NODE}" == "0" ]]; then GPUS_PER_NODE=1; fi
fi
if [[ -z "${RAY_PYTHON:-}" ]]; then
  if [[ -n "${SERVE_PYTHON:-}" ]]; then RAY_PYTHON="${SERVE_PYTHON}"
  elif [[ -x "${ROOT}/.venvs/serve/bin/python" ]]; then RAY_PYTHON="${ROOT}/.venvs/serve/bin/python"
  else RAY_PYTHON=python; fi
fi

# The `ray` command beside the interpreter (or on PATH).
if [[ "${RAY_PYTHON}" == */* ]]; then RAY="$(dirname "${RAY_PYTHON}")/ray"; else RAY=ray; fi

# Print the command (to stdout for --dry-run, which runs nothing), then run it.
run() {
  local quoted
  printf -v quoted ' %q' "$@"
  if [[ "${dry_run}" == "1" ]]; then
    echo "+${quoted}"
  else
    echo "+${quoted}" >&2
    "$@"
  fi
}

case "${role}" in
  head)
    run "${RAY}" start --head --port "${RAY_PORT}" --num-gpus "${GPUS_PER_NODE}" --block
    ;;
  worker)
    run "${RAY}" start --address "${RAY_HEAD_ADDRESS}:${RAY_PORT}" --num-gpus "${GPUS_PER_NODE}" --block
    ;;
  serve)
    export TENSOR_PARALLEL_SIZE="${TENSOR_PARALLEL_SIZE:-${GPUS_PER_NODE}}"
    export PIPELINE_PARALLEL_SIZE="${PIPELINE_PARALLEL_SIZE:-${NNODES}}"
    export SERVE_PYTHON="${RAY_PYTHON}"
    export RAY_ADDRESS="${RAY_HEAD_ADDRESS}:${RAY_PORT}"
    if [[ "${dry_run}" == "1" ]]; then
      echo "+ RAY_ADDRESS=${RAY_ADDRESS} $(serve_command_line "$@")"
    else
      exec bash "${ROOT}/run/serve.sh" "$@"
    fi
    ;;
  *)
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
