#!/usr/bin/env bash
# Full-parameter SFT of M1 (Qwen2.5-32B-Instruct on M500) with LLaMA-Factory, on one or many nodes.
#
# Usage: bash run/train.sh [--smoke] [--dry-run] [--config FILE] [key=value ...]
#   --dry-run      print the launch command and the resolved config, then exit 0 (writes nothing)
#   --smoke        CPU smoke mode (also SMOKE=1): the embedded SmolLM2 folder, template smollm2,
#                  bf16 off, a tiny dataset prepared from tests/fixtures/m500, cutoff_len 512,
#                  max_steps 3, checkpoints every 3 steps, HF_HUB_OFFLINE=1, caches under .cache/,
#                  OMP_WAIT_POLICY=PASSIVE
#   --config FILE  base LLaMA-Factory YAML (default: the paper's recipe, CONFIG env var)
#   key=value      any LLaMA-Factory argument; applied last, after the environment variables
#                  (key=null removes the key from the config)
#
# Environment (each set variable overrides the YAML; unset means "keep the YAML's value"):
#   MODEL_PATH -> model_name_or_path, and, named like the key in upper case: TEMPLATE DATASET
#   DATASET_DIR CUTOFF_LEN LEARNING_RATE WEIGHT_DECAY NUM_TRAIN_EPOCHS LR_SCHEDULER_TYPE
#   WARMUP_RATIO PER_DEVICE_TRAIN_BATCH_SIZE GRADIENT_ACCUMULATION_STEPS BF16 FLASH_ATTN
#   OUTPUT_DIR SAVE_STEPS SAVE_TOTAL_LIMIT MAX_STEPS LOGGING_STEPS MAX_SAMPLES RUN_NAME SEED
#   DEEPSPEED      z3_offload (default; the research run's setting), z3, none, or a JSON path
#   RESUME         auto (default: continue from the last complete checkpoint-N in output_dir),
#                  never (start over), or a checkpoint path
#   WANDB_PROJECT  when set, report_to=wandb (credentials from WANDB_API_KEY in the environment);
#                  otherwise report_to=none
#   HF_TOKEN       read by huggingface_hub from the environment; never written to any file
# Launch (read by llamafactory-cli, which starts torchrun when FORCE_TORCHRUN=1 or >1 GPU):
#   NNODES NODE_RANK MASTER_ADDR MASTER_PORT NPROC_PER_NODE FORCE_TORCHRUN
#   Under SLURM (SLURM_JOB_ID set) the unset ones come from SLURM_JOB_NUM_NODES, SLURM_NODEID,
#   the first host of SLURM_JOB_NODELIST, 20000 + SLURM_JOB_ID % 10000 and SLURM_GPUS_ON_NODE;
#   start one task per node: srun --ntasks-per-node=1 bash run/train.sh
# Tools: TRAIN_VENV (default .venvs/train, made by scripts/setup_train_env.sh), TRAIN_PYTHON,
#   LLAMAFACTORY_CLI. Caches (TORCH_EXTENSIONS_DIR, MPLCONFIGDIR, TRITON_CACHE_DIR, and HF_HOME
#   in smoke mode) default to .cache/ inside the repository.
#
# Examples:
#   bash run/train.sh                                                  # one node, all its GPUs
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=node0 bash run/train.sh           # on node0, then NODE_RANK=1 on node1
#   DEEPSPEED=z3 LEARNING_RATE=2e-5 bash run/train.sh save_steps=50    # overrides
#   SMOKE=1 bash run/train.sh                                          # CPU smoke run
#   SMOKE=1 DEEPSPEED=z3 FORCE_TORCHRUN=1 NNODES=1 NPROC_PER_NODE=1 bash run/train.sh
set -euo pipefail

usage() {
  sed -n '2,/^set -euo pipefail/p' "${BASH_SOURCE[0]}" | sed '$d' | sed -E 's/^# ?//'
}
log() { echo "[train.sh] $*" >&2; }
die() { log "error: $*"; exit 2; }

parse_arguments() {
  DRY_RUN="${DRY_RUN:-0}"
  SMOKE="${SMOKE:-0}"
  CONFIG="${CONFIG:-LLaMA-Factory/examples/train_full/qwen2.5_32b_m500_full_sft.yaml}"
  CLI_OVERRIDES=()
  while (($# > 0)); do
    case "$1" in
      --dry-run) DRY_RUN=1 ;;
      --smoke) SMOKE=1 ;;
      --config) CONFIG="${2:?--config needs a file}"; shift ;;
      --config=*) CONFIG="${1#*=}" ;;
      -h | --help) usage; exit 0 ;;
      *=*) CLI_OVERRIDES+=("$1") ;;
      *) echo "train.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
  done
}

select_tools() {
  TRAIN_VENV="${TRAIN_VENV:-.venvs/train}"
  if [[ -x "${TRAIN_VENV}/bin/python" ]]; then
    TRAIN_PYTHON="${TRAIN_PYTHON:-${TRAIN_VENV}/bin/python}"
    LLAMAFACTORY_CLI="${LLAMAFACTORY_CLI:-${TRAIN_VENV}/bin/llamafactory-cli}"
  else
    TRAIN_PYTHON="${TRAIN_PYTHON:-python3}"
    LLAMAFACTORY_CLI="${LLAMAFACTORY_CLI:-llamafactory-cli}"
  fi
  [[ -f "${CONFIG}" ]] || die "no such config: ${CONFIG}"

  export TORCH_EXTENSIONS_DIR="${TORCH_EXTENSIONS_DIR:-${REPO_ROOT}/.cache/torch_extensions}"
  export MPLCONFIGDIR="${MPLCONFIGDIR:-${REPO_ROOT}/.cache/matplotlib}"
  export TRITON_CACHE_DIR="${TRITON_CACHE_DIR:-${REPO_ROOT}/.cache/triton}"
}

# Smoke mode: the environment of the training processes and the model and dataset folders (its
# config values are in scripts/resolve_train_config.py). RESUME defaults to auto.
smoke_settings() {
  SMOKE_FIXTURE="${SMOKE_FIXTURE:-tests/fixtures/m500/m500_tiny.jsonl}"
  RESUME="${RESUME:-auto}"
  if [[ "${SMOKE}" == 1 ]]; then
    export HF_HOME="${HF_HOME:-${REPO_ROOT}/.cache/huggingface}"
    export HF_HUB_OFFLINE=1
    # torch.distributed emits a FutureWarning per collective call under ZeRO-3 (thousands of lines).
    export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore::FutureWarning}"
    # On a busy CPU, OpenMP threads that spin while waiting made each step 3-5x slower here.
    export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
    MODEL_PATH="${MODEL_PATH:-.cache/smollm2-hf}"
    DATASET_DIR="${DATASET_DIR:-.cache/smoke/data}"
  fi
}

first_slurm_host() {
  local nodelist="$1"
  if command -v scontrol >/dev/null 2>&1; then
    scontrol show hostnames "${nodelist}" | sed -n 1p
  elif [[ "${nodelist}" =~ ^([^,\[]+)\[([0-9]+) ]]; then
    echo "${BASH_REMATCH[1]}${BASH_REMATCH[2]}"   # gpu[07-10,12] -> gpu07
  else
    echo "${nodelist%%,*}"                          # node1,node2 -> node1
  fi
}

# Sets NNODES, NODE_RANK, MASTER_ADDR, MASTER_PORT, NPROC_PER_NODE, FORCE_TORCHRUN (SLURM aware)
# and collects the set ones in LAUNCH_ENV (FORCE_TORCHRUN is read there through ${!variable}).
# shellcheck disable=SC2034
launch_variables() {
  local variable slurm_gpus
  if [[ -n "${SLURM_JOB_ID:-}" ]]; then
    NNODES="${NNODES:-${SLURM_JOB_NUM_NODES:-${SLURM_NNODES:-1}}}"
    NODE_RANK="${NODE_RANK:-${SLURM_NODEID:-0}}"
    if [[ -z "${MASTER_ADDR:-}" && -n "${SLURM_JOB_NODELIST:-${SLURM_NODELIST:-}}" ]]; then
      MASTER_ADDR="$(first_slurm_host "${SLURM_JOB_NODELIST:-${SLURM_NODELIST:-}}")"
    fi
    MASTER_PORT="${MASTER_PORT:-$((20000 + SLURM_JOB_ID % 10000))}"
    slurm_gpus="${SLURM_GPUS_ON_NODE:-${SLURM_GPUS_PER_NODE:-}}"
    NPROC_PER_NODE="${NPROC_PER_NODE:-${slurm_gpus##*:}}"
    if [[ -n "${SLURM_NTASKS:-}" && "${SLURM_NTASKS}" -gt "${NNODES}" ]]; then
      die "SLURM_NTASKS=${SLURM_NTASKS} > ${NNODES} nodes: start one task per node (srun --ntasks-per-node=1)"
    fi
  fi
  NNODES="${NNODES:-1}"
  NODE_RANK="${NODE_RANK:-0}"
  [[ "${NNODES}" =~ ^[0-9]+$ && "${NODE_RANK}" =~ ^[0-9]+$ ]] || die "NNODES and NODE_RANK must be integers"
  LAUNCH_ENV=()
  if ((NNODES > 1)); then
    [[ -n "${MASTER_ADDR:-}" ]] || die "NNODES=${NNODES} needs MASTER_ADDR (the address of the NODE_RANK=0 node)"
    ((NODE_RANK < NNODES)) || die "NODE_RANK=${NODE_RANK} must be below NNODES=${NNODES}"
    # Every node must agree on the port, so llamafactory-cli must not pick a random free one.
    MASTER_PORT="${MASTER_PORT:-29500}"
    FORCE_TORCHRUN=1
  fi
  [[ -z "${NPROC_PER_NODE:-}" || "${NPROC_PER_NODE}" =~ ^[0-9]+$ ]] || die "NPROC_PER_NODE must be an integer"
  if [[ -n "${NPROC_PER_NODE:-}" ]] && ((NPROC_PER_NODE > 1)); then
    FORCE_TORCHRUN=1
  fi
  for variable in FORCE_TORCHRUN NNODES NODE_RANK NPROC_PER_NODE MASTER_ADDR MASTER_PORT; do
    if [[ -n "${!variable:-}" ]]; then
      LAUNCH_ENV+=("${variable}=${!variable}")
    fi
  done
}

# scripts/resolve_train_config.py merges the YAML with the smoke settings, the environment
# variables and the key=value arguments, refuses secrets, picks the checkpoint to resume from,
# writes the result to RESOLVED and prints the resolved output_dir. MODEL_PATH and DATASET_DIR
# go to it alone: smoke mode sets them here without exporting them.
resolve_config() {
  local smoke_flag=()
  if [[ "${SMOKE}" == 1 ]]; then
    smoke_flag=(--smoke)
  fi
  MODEL_PATH="${MODEL_PATH:-}" DATASET_DIR="${DATASET_DIR:-}" \
    "${TRAIN_PYTHON}" "${REPO_ROOT}/scripts/resolve_train_config.py" \
    --base="${CONFIG}" --output="${RESOLVED}" --resume="${RESUME}" ${smoke_flag[@]+"${smoke_flag[@]}"} \
    -- ${CLI_OVERRIDES[@]+"${CLI_OVERRIDES[@]}"}
}

# Checks the tools, prepares the smoke dataset, writes the resolved config, trains, plots.
run_training() {
  command -v "${LLAMAFACTORY_CLI}" >/dev/null 2>&1 \
    || die "${LLAMAFACTORY_CLI} not found: run bash scripts/setup_train_env.sh (or set LLAMAFACTORY_CLI)"
  if [[ "${LLAMAFACTORY_CLI}" == */* ]]; then
    # llamafactory-cli starts `torchrun` (and DeepSpeed its JIT build tools) from PATH.
    PATH="$(cd "$(dirname "${LLAMAFACTORY_CLI}")" && pwd):${PATH}"
    export PATH
  fi
  if [[ "${SMOKE}" == 1 ]]; then
    [[ -f "${MODEL_PATH}/config.json" ]] \
      || die "no model at ${MODEL_PATH}: run .venv/bin/python scripts/convert_gguf_to_hf.py ${MODEL_PATH}"
    if [[ ! -f "${DATASET_DIR}/dataset_info.json" ]]; then
      log "preparing the smoke dataset in ${DATASET_DIR} from ${SMOKE_FIXTURE}"
      "${TRAIN_PYTHON}" scripts/prepare_m500.py --input "${SMOKE_FIXTURE}" --tokenizer "${MODEL_PATH}" \
        --dataset-dir "${DATASET_DIR}" --cutoff-len 512 >&2
    fi
  fi
  # LLaMA-Factory only warns and falls back to another attention when flash-attn is missing.
  if grep -qx 'flash_attn: fa2' "${RESOLVED}" && ! "${TRAIN_PYTHON}" -c 'import flash_attn' >/dev/null 2>&1; then
    die "flash_attn: fa2 but the flash-attn package does not import in ${TRAIN_PYTHON}: install it" \
      "(EXTRA_PACKAGES=flash-attn bash scripts/setup_train_env.sh) or set FLASH_ATTN=sdpa"
  fi
  mkdir -p "${OUTPUT_DIR_RESOLVED}"
  # Each node writes the same content; the rename keeps readers from seeing a half-written file.
  cp "${RESOLVED}" "${CONFIG_OUT}.tmp.$$"
  mv -f "${CONFIG_OUT}.tmp.$$" "${CONFIG_OUT}"

  env ${LAUNCH_ENV[@]+"${LAUNCH_ENV[@]}"} "${COMMAND[@]}"

  if [[ "${NODE_RANK}" == 0 ]]; then
    "${TRAIN_PYTHON}" scripts/plot_loss.py "${OUTPUT_DIR_RESOLVED}" \
      || log "warning: scripts/plot_loss.py could not plot ${OUTPUT_DIR_RESOLVED} (training itself succeeded)"
  fi
  log "done: ${OUTPUT_DIR_RESOLVED}"
}

main() {
  REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  cd "${REPO_ROOT}"
  parse_arguments "$@"
  select_tools
  smoke_settings
  launch_variables
  RESOLVED="$(mktemp)"
  trap 'rm -f "${RESOLVED}"' EXIT
  OUTPUT_DIR_RESOLVED="$(resolve_config)"
  CONFIG_OUT="${OUTPUT_DIR_RESOLVED}/train_config.yaml"
  [[ "${CONFIG_OUT}" != *" "* ]] || die "output_dir must not contain spaces (torchrun splits its arguments on them)"

  COMMAND=("${LLAMAFACTORY_CLI}" train "${CONFIG_OUT}")
  # The plan goes to stdout before anything runs (and is all that --dry-run does).
  echo "[train.sh] smoke=${SMOKE} dry_run=${DRY_RUN} base config: ${CONFIG}"
  echo "[train.sh] command: ${LAUNCH_ENV[*]+${LAUNCH_ENV[*]} }${COMMAND[*]}"
  echo "[train.sh] resolved config (${CONFIG_OUT}):"
  cat "${RESOLVED}"
  if [[ "${DRY_RUN}" == 1 ]]; then
    exit 0
  fi

  run_training
}

# One line, so bash has read all of it before training starts: editing this file during a
# days-long run cannot change what runs after it.
main "$@"; exit "$?"
