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

# Fills SMOKE_OVERRIDES and ENV_OVERRIDES (key=value), in increasing priority.
collect_overrides() {
  local pair variable
  SMOKE_OVERRIDES=()
  SMOKE_FIXTURE="${SMOKE_FIXTURE:-tests/fixtures/m500/m500_tiny.jsonl}"
  if [[ "${SMOKE}" == 1 ]]; then
    export HF_HOME="${HF_HOME:-${REPO_ROOT}/.cache/huggingface}"
    export HF_HUB_OFFLINE=1
    # torch.distributed emits a FutureWarning per collective call under ZeRO-3 (thousands of lines).
    export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore::FutureWarning}"
    # On a busy CPU, OpenMP threads that spin while waiting made each step 3-5x slower here.
    export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
    MODEL_PATH="${MODEL_PATH:-.cache/smollm2-hf}"
    DATASET_DIR="${DATASET_DIR:-.cache/smoke/data}"
    DEEPSPEED="${DEEPSPEED:-none}"
    SMOKE_OVERRIDES=(
      template=smollm2 bf16=false fp16=false flash_attn=auto cutoff_len=512
      max_steps=3 save_steps=3 save_total_limit=2 logging_steps=1
      output_dir=.cache/smoke/output preprocessing_num_workers=1 dataloader_num_workers=0
    )
  fi

  ENV_TO_KEY=(
    MODEL_PATH:model_name_or_path TEMPLATE:template DATASET:dataset DATASET_DIR:dataset_dir
    CUTOFF_LEN:cutoff_len LEARNING_RATE:learning_rate WEIGHT_DECAY:weight_decay
    NUM_TRAIN_EPOCHS:num_train_epochs LR_SCHEDULER_TYPE:lr_scheduler_type WARMUP_RATIO:warmup_ratio
    PER_DEVICE_TRAIN_BATCH_SIZE:per_device_train_batch_size
    GRADIENT_ACCUMULATION_STEPS:gradient_accumulation_steps BF16:bf16 FLASH_ATTN:flash_attn
    OUTPUT_DIR:output_dir SAVE_STEPS:save_steps SAVE_TOTAL_LIMIT:save_total_limit MAX_STEPS:max_steps
    LOGGING_STEPS:logging_steps MAX_SAMPLES:max_samples RUN_NAME:run_name SEED:seed
  )
  ENV_OVERRIDES=()
  for pair in "${ENV_TO_KEY[@]}"; do
    variable="${pair%%:*}"
    if [[ -n "${!variable:-}" ]]; then
      ENV_OVERRIDES+=("${pair#*:}=${!variable}")
    fi
  done

  DEEPSPEED="${DEEPSPEED:-z3_offload}"
  case "${DEEPSPEED}" in
    z3) ENV_OVERRIDES+=(deepspeed=LLaMA-Factory/examples/deepspeed/ds_z3_config.json) ;;
    z3_offload) ENV_OVERRIDES+=(deepspeed=LLaMA-Factory/examples/deepspeed/ds_z3_offload_config.json) ;;
    none | off) ENV_OVERRIDES+=(deepspeed=null) ;;
    *.json) [[ -f "${DEEPSPEED}" ]] || die "DEEPSPEED: no such file ${DEEPSPEED}"; ENV_OVERRIDES+=("deepspeed=${DEEPSPEED}") ;;
    *) die "DEEPSPEED must be z3, z3_offload, none or a .json path, not '${DEEPSPEED}'" ;;
  esac
  if [[ -n "${WANDB_PROJECT:-}" ]]; then
    ENV_OVERRIDES+=(report_to=wandb)
  else
    ENV_OVERRIDES+=(report_to=none)
  fi
  RESUME="${RESUME:-auto}"
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

# Merges the YAML with the override layers, refuses secrets, picks the checkpoint to resume from,
# writes the result to $2 and prints the resolved output_dir.
resolve_config() {
  "${TRAIN_PYTHON}" - "$@" <<'PY'
import os
import re
import sys
from pathlib import Path

import yaml

SECRET_KEYS = {"hf_hub_token", "ms_hub_token", "om_hub_token"}
SECRET_PATTERN = re.compile(r"(api_key|secret|password)", re.IGNORECASE)
SECRET_ENV_PATTERN = re.compile(r"(TOKEN|API_KEY|SECRET|PASSWORD)", re.IGNORECASE)


def fail(message: str) -> None:
    print(f"[train.sh] error: {message}", file=sys.stderr)
    raise SystemExit(2)


def parse_value(text: str) -> object:
    """key=value text to a typed value (YAML 1.1 reads 1e-5 as a string, so numbers go first)."""
    lowered = text.strip().lower()
    if lowered in {"true", "false"}:
        return lowered == "true"
    if lowered in {"null", "~"}:
        return None
    for number_type in (int, float):
        try:
            return number_type(text)
        except ValueError:
            pass
    return text


def apply_overrides(config: dict, overrides: list[str]) -> None:
    for item in overrides:
        key, _, text = item.partition("=")
        key = key.strip()
        if not key:
            fail(f"override without a key: {item!r}")
        value = parse_value(text)
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value


def refuse_secrets(config: dict) -> None:
    for key in config:
        if key in SECRET_KEYS or SECRET_PATTERN.search(key):
            fail(f"'{key}' must not be written into a config; pass credentials in the environment (HF_TOKEN)")
    secrets = [value for name, value in os.environ.items() if SECRET_ENV_PATTERN.search(name) and len(value) >= 8]
    for key, value in config.items():
        if any(secret in str(value) for secret in secrets):
            fail(f"the value of '{key}' contains a credential from the environment; refusing to write it")


def last_checkpoint(output_dir: Path) -> Path | None:
    """Highest checkpoint-N whose trainer_state.json exists (a crash mid-save leaves none)."""
    candidates = []
    for path in output_dir.glob("checkpoint-*"):
        suffix = path.name.removeprefix("checkpoint-")
        if suffix.isdigit() and (path / "trainer_state.json").is_file():
            candidates.append((int(suffix), path))
    return max(candidates)[1] if candidates else None


def choose_resume(config: dict, resume: str) -> None:
    output_dir = Path(str(config.get("output_dir", "")))
    if resume == "never":
        config.pop("resume_from_checkpoint", None)
        config["overwrite_output_dir"] = True
        return
    if resume != "auto":
        config["resume_from_checkpoint"] = resume
    elif "resume_from_checkpoint" not in config:
        checkpoint = last_checkpoint(output_dir)
        if checkpoint is None:
            print(f"[train.sh] no checkpoint in {output_dir}: starting from step 0", file=sys.stderr)
            return
        config["resume_from_checkpoint"] = str(checkpoint)
    print(f"[train.sh] resuming from {config['resume_from_checkpoint']}", file=sys.stderr)
    if config.get("overwrite_output_dir"):
        # LLaMA-Factory deletes trainer_log.jsonl (the loss history) when this is true.
        print("[train.sh] resuming: overwrite_output_dir forced to false", file=sys.stderr)
    config["overwrite_output_dir"] = False


def main(arguments: list[str]) -> None:
    base_path, target_path, resume, *overrides = arguments
    config = yaml.safe_load(Path(base_path).read_text(encoding="utf-8")) or {}
    apply_overrides(config, overrides)
    if "output_dir" not in config:
        fail("output_dir is not set")
    refuse_secrets(config)
    choose_resume(config, resume)
    header = f"# Resolved by run/train.sh from {base_path}; this is the file llamafactory-cli trains with.\n"
    Path(target_path).write_text(header + yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    print(config["output_dir"])


main(sys.argv[1:])
PY
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
  collect_overrides
  launch_variables
  RESOLVED="$(mktemp)"
  trap 'rm -f "${RESOLVED}"' EXIT
  OUTPUT_DIR_RESOLVED="$(resolve_config "${CONFIG}" "${RESOLVED}" "${RESUME}" \
    ${SMOKE_OVERRIDES[@]+"${SMOKE_OVERRIDES[@]}"} "${ENV_OVERRIDES[@]}" \
    ${CLI_OVERRIDES[@]+"${CLI_OVERRIDES[@]}"})"
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
