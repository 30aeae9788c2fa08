#!/usr/bin/env python
"""Convert the embedded SmolLM2 GGUF (or any GGUF) into a normal Hugging Face folder.

LLaMA-Factory and vLLM need a regular folder (config.json, safetensors, tokenizer).
The conversion is agentverse.llms.embedded.convert_gguf (the one the embedded backend caches
with): the folder is written beside OUTPUT_DIR and renamed into place once complete.

Usage: python scripts/convert_gguf_to_hf.py OUTPUT_DIR [--gguf FILE] [--dtype bfloat16]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output_dir", type=Path, help="Folder to write the Hugging Face model into.")
    parser.add_argument("--gguf", type=Path, default=None, help="GGUF file (default: the embedded SmolLM2).")
    parser.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"])
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from agentverse.llms.embedded import convert_gguf, embedded_gguf_path

    gguf_file = args.gguf if args.gguf is not None else embedded_gguf_path()
    if not gguf_file.is_file():
        parser.error(f"--gguf: no such file: {gguf_file}")
    if (args.output_dir / "config.json").is_file():
        print(f"already converted: {args.output_dir}")
        return 0
    try:
        convert_gguf(gguf_file, args.output_dir, args.dtype)
    except FileExistsError as error:  # e.g. what an older, interrupted conversion left
        print(f"error: {error}; remove it and run again", file=sys.stderr)
        return 2
    print(f"wrote {args.output_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
