#!/usr/bin/env python
"""Convert the embedded SmolLM2 GGUF (or any GGUF) into a normal Hugging Face folder.

LLaMA-Factory and vLLM need a regular folder (config.json, safetensors, tokenizer).
transformers dequantizes the GGUF on load; `save_pretrained` refuses to write a
model it believes is gguf-quantized, so the quantizer marker is dropped first.

Usage: python scripts/convert_gguf_to_hf.py OUTPUT_DIR [--gguf FILE] [--dtype bfloat16]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def convert(gguf_file: Path, output_dir: Path, dtype: str) -> Path:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(gguf_file.parent), gguf_file=gguf_file.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf_file.parent), gguf_file=gguf_file.name)
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model = model.to(getattr(torch, dtype))
    output_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(output_dir))
    tokenizer.save_pretrained(str(output_dir))
    return output_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output_dir", type=Path, help="Folder to write the Hugging Face model into.")
    parser.add_argument("--gguf", type=Path, default=None, help="GGUF file (default: the embedded SmolLM2).")
    parser.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"])
    args = parser.parse_args(argv)
    gguf_file = args.gguf
    if gguf_file is None:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from agentverse.llms.embedded import embedded_gguf_path

        gguf_file = embedded_gguf_path()
    if not gguf_file.is_file():
        parser.error(f"--gguf: no such file: {gguf_file}")
    if (args.output_dir / "config.json").is_file():
        print(f"already converted: {args.output_dir}")
        return 0
    convert(gguf_file, args.output_dir, args.dtype)
    print(f"wrote {args.output_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
