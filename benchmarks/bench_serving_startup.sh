#!/usr/bin/env bash
# Time vLLM startup through run/serve.sh: seconds from launch until GET /v1/models answers.
# Usage: benchmarks/bench_serving_startup.sh [-- COMMAND [ARGS...]]
#   Starts the server REPEATS times (default 1); after each start it runs COMMAND, if given,
#   with SERVER_BASE_URL exported (e.g. the throughput benchmark), then stops the server.
#   Each start prints "startup_seconds=N"; the server's settings are run/serve.sh's
#   (MODEL_PATH, SERVED_MODEL_NAME, MAX_MODEL_LEN, PORT, EXTRA_ARGS="...", ...).
# Example (CPU, embedded model):
#   MODEL_PATH=.cache/smollm2-hf SERVED_MODEL_NAME=smollm2 MAX_MODEL_LEN=2048 PORT=8011 \
#     benchmarks/bench_serving_startup.sh -- .venv/bin/python benchmarks/bench_serving.py \
#     --base-url http://127.0.0.1:8011/v1
set -euo pipefail
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  sed -n '2,/^[^#]/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
  exit 0
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPEATS="${REPEATS:-1}"
# Poll often so the measured time is not rounded up to run/lib.sh's default 2 s interval.
export SERVE_POLL_INTERVAL="${SERVE_POLL_INTERVAL:-0.25}"
if [[ "${1:-}" == "--" ]]; then
  shift
fi
read -r -a extra_args <<<"${EXTRA_ARGS:-}"

# shellcheck source=run/lib.sh
source "${ROOT}/run/lib.sh"

for attempt in $(seq 1 "${REPEATS}"); do
  started="$(date +%s.%N)"
  start_server "${extra_args[@]}"
  ready="$(date +%s.%N)"
  seconds="$(awk -v a="${started}" -v b="${ready}" 'BEGIN { printf "%.1f", b - a }')"
  echo "start ${attempt}/${REPEATS}: startup_seconds=${seconds} (${SERVE_DEVICE}, model ${MODEL_PATH}," \
    "args: ${EXTRA_ARGS:-none})"
  if (($# > 0)); then
    SERVER_BASE_URL="${SERVER_BASE_URL}" "$@"
  fi
  stop_server
done
