#!/usr/bin/env bash
# Create the virtual environment that runs the training recipe (run/train.sh).
# Usage: bash scripts/setup_train_env.sh [VENV_DIR]        (default .venvs/train)
# Environment:
#   TORCH_VERSION         torch release installed first and pinned (default 2.13.0). On this CPU
#                         machine pip finds its CPU build on disk; on a GPU node set it to the CUDA
#                         build you want (or TORCH_VERSION=none to keep whatever torch pip picks).
#   LLAMAFACTORY_VERSION  default 0.9.5 (the release our configs and run/train.sh were checked with).
#   DEEPSPEED_VERSION     default 0.19.8 (its ops are JIT-compiled on first use).
#   EXTRA_PACKAGES        more pip requirements, space separated, installed last without build
#                         isolation (on GPU nodes: "flash-attn wandb"; run/train.sh refuses
#                         flash_attn: fa2 when flash-attn does not import).
#   PYTHON                interpreter that creates the venv (default python3).
# Kept apart from the project venv: LLaMA-Factory pins its own transformers/trl/peft.
# Quirks solved here, not by hand:
#   * a constraint file pins torch so no dependency pulls a multi-GB CUDA build;
#   * the registry's torchvision/torchaudio/torchcodec wheels do not load beside the CPU torch,
#     so any of them that fails to import is removed; llamafactory still imports `torchaudio` at
#     module level, so when no working torchaudio is left a stub package is placed on the venv's
#     path (via a .pth file) whose attributes raise ImportError.
# Idempotent: a marker file in the venv records the installed versions; a second run with the
# same settings only re-checks that llamafactory and deepspeed import.
set -euo pipefail
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  sed -n '2,/^[^#]/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
  exit 0
fi

VENV_DIR="${1:-${VENV_DIR:-.venvs/train}}"
PYTHON="${PYTHON:-python3}"
TORCH_VERSION="${TORCH_VERSION:-2.13.0}"
LLAMAFACTORY_VERSION="${LLAMAFACTORY_VERSION:-0.9.5}"
DEEPSPEED_VERSION="${DEEPSPEED_VERSION:-0.19.8}"
EXTRA_PACKAGES="${EXTRA_PACKAGES:-}"
MARKER="${VENV_DIR}/.mas-tts-train-env"
WANTED="torch=${TORCH_VERSION} llamafactory=${LLAMAFACTORY_VERSION} deepspeed=${DEEPSPEED_VERSION} extra=${EXTRA_PACKAGES}"

check_import() {
  # Importing the CLI module and deepspeed catches a broken torch pairing or a missing stub.
  "${VENV_DIR}/bin/python" - <<'PY'
import deepspeed
import llamafactory
import llamafactory.cli  # noqa: F401
import torch
import transformers

print(
    f"llamafactory {llamafactory.__version__}, deepspeed {deepspeed.__version__}, "
    f"transformers {transformers.__version__}, torch {torch.__version__}: imports fine"
)
PY
}

install_torchaudio_stub() {
  # A directory inside the venv, added to sys.path by a .pth file, holding a `torchaudio` module
  # whose every attribute access raises ImportError: `import torchaudio` succeeds, audio use fails
  # loudly. It has no dist-info, so transformers' availability checks still say "not installed".
  local site_packages stub_root
  site_packages="$("${VENV_DIR}/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  stub_root="$(cd "${VENV_DIR}" && pwd)/stubs"
  mkdir -p "${stub_root}/torchaudio"
  cat > "${stub_root}/torchaudio/__init__.py" <<'PY'
"""Placeholder for torchaudio, whose wheel does not load beside the CPU torch of this venv.

Text-only training never uses audio; any real use fails here with a clear ImportError.
"""


def __getattr__(name: str) -> object:
    if name.startswith("__") and name.endswith("__"):
        raise AttributeError(name)
    raise ImportError(f"torchaudio is a stub in this venv (scripts/setup_train_env.sh); no torchaudio.{name}")
PY
  echo "${stub_root}" > "${site_packages}/mas_tts_stubs.pth"
}

remove_unloadable_extras() {
  # On CPU these wheels fail to load (missing CUDA libraries / operators); on a GPU node with a
  # matching torch they load and are kept.
  local package
  for package in torchvision torchaudio torchcodec; do
    if "${PIP[@]}" show -q "${package}" >/dev/null 2>&1 \
      && ! "${VENV_DIR}/bin/python" -c "import ${package}" >/dev/null 2>&1; then
      echo "removing ${package}: it does not load beside this torch"
      "${PIP[@]}" uninstall -q -y "${package}"
    fi
  done
}

if [[ -f "${MARKER}" && "$(cat "${MARKER}")" == "${WANTED}" && -x "${VENV_DIR}/bin/python" ]]; then
  echo "train env already set up (${WANTED}) in ${VENV_DIR}"
  check_import
  exit 0
fi

mkdir -p "$(dirname "${VENV_DIR}")"
if [[ ! -x "${VENV_DIR}/bin/python" ]]; then
  "${PYTHON}" -m venv "${VENV_DIR}"
fi
PIP=("${VENV_DIR}/bin/python" -m pip)
"${PIP[@]}" install -q --upgrade pip

CONSTRAINTS="$(mktemp)"
trap 'rm -f "${CONSTRAINTS}"' EXIT
if [[ "${TORCH_VERSION}" != "none" ]]; then
  echo "torch==${TORCH_VERSION}" > "${CONSTRAINTS}"
  # torch first, so the constraint below only has to keep it.
  "${PIP[@]}" install -q "torch==${TORCH_VERSION}"
fi
"${PIP[@]}" install -q -c "${CONSTRAINTS}" "llamafactory==${LLAMAFACTORY_VERSION}" "deepspeed==${DEEPSPEED_VERSION}"
if [[ -n "${EXTRA_PACKAGES}" ]]; then
  # flash-attn's build imports torch, so it must see this venv's torch (no build isolation).
  # shellcheck disable=SC2086  # EXTRA_PACKAGES is a space-separated list on purpose
  "${PIP[@]}" install -q -c "${CONSTRAINTS}" --no-build-isolation ${EXTRA_PACKAGES}
fi
remove_unloadable_extras
if ! "${VENV_DIR}/bin/python" -c 'import torchaudio' >/dev/null 2>&1; then
  install_torchaudio_stub
fi

check_import
echo "${WANTED}" > "${MARKER}"
echo "train env ready in ${VENV_DIR} (${WANTED})"
