"""agentverse-import-config: convert a research-format (AgentVerse / MAS-TTS) task config into ours.

The converted config sends the research code's requests: its prompts (read from your checkout
now; nothing of theirs ships with this project), budgets, sampling, message layout and CEO
behaviour. It prints what was mapped, what was dropped and why, and where the run still
differs from the research code; a key it cannot map is refused with its key path.

Examples:
  agentverse-import-config MAS-TTS/agentverse/tasks/tasksolving/math500/m1-32b/config.yaml \\
      --out my/math500-paper.yaml
  agentverse-import-config research.yaml --out paper-api.yaml --layout api --benchmark gpqa_diamond
  agentverse-benchmark --task my/math500-paper.yaml --base-url http://gpu-node:8000/v1
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agentverse.config.loader import ConfigError, load_task_config
from agentverse.config.research import BENCHMARK_KINDS, convert_research_config, render
from agentverse.runs.store import RunDirectory
from agentverse_command.common import ctrl_c_is_one_line


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="agentverse-import-config",
        description="Convert a research-format task config into this project's schema (paper-exact mode).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("Examples:", 1)[1] if __doc__ else None,
    )
    parser.add_argument("research_config", type=Path, help="The research config.yaml (from your MAS-TTS checkout).")
    parser.add_argument("--out", type=Path, required=True, help="Where to write the converted config.")
    parser.add_argument(
        "--layout",
        choices=["api", "local"],
        help="The research code path to reproduce: `api` (history as [sender]: content assistant messages) or "
        "`local` (history flattened into the user message, <think> prefill). Default: by the model name "
        "(m1-32b, d1-32b and the research code's other local models: local).",
    )
    parser.add_argument(
        "--benchmark",
        choices=sorted(BENCHMARK_KINDS),
        help="The benchmark (default: the folder name in .../tasksolving/<benchmark>/<model>/config.yaml).",
    )
    parser.add_argument("--base-url", action="append", dest="base_urls", metavar="URL", help="Server base URL.")
    parser.add_argument("--force", action="store_true", help="Overwrite --out if it exists.")
    return parser.parse_args(argv)


@ctrl_c_is_one_line
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.out.exists() and not args.force:
        print(f"error: {args.out} exists; pass --force to overwrite it", file=sys.stderr)
        return 2
    try:
        conversion = convert_research_config(args.research_config, args.layout, args.benchmark, args.base_urls)
    except ConfigError as error:
        print(f"cannot import: {error}", file=sys.stderr)
        return 2
    layout = conversion.config.agent("solver").memory.layout
    text = render(conversion, args.research_config, layout)
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        RunDirectory.write_atomically(args.out, text)
        reloaded, _ = load_task_config(str(args.out))
    except OSError as error:
        print(f"error: cannot write {args.out}: {error.strerror}", file=sys.stderr)
        return 2
    except ConfigError as error:  # the written file must load as it was converted
        print(f"error: the converted config does not load back: {error}", file=sys.stderr)
        return 1
    if reloaded != conversion.config:
        print(f"error: {args.out} does not load back to the converted config", file=sys.stderr)
        return 1
    report(conversion.mapped, conversion.dropped, conversion.differences)
    print(f"wrote {args.out} ({layout} layout)")
    return 0


def report(mapped: list[str], dropped: list[str], differences: list[str]) -> None:
    for title, lines in (
        ("mapped", mapped),
        ("dropped", dropped),
        ("still different from the research code", differences),
    ):
        print(f"{title}:")
        for line in lines:
            print(f"  - {line}")


if __name__ == "__main__":
    raise SystemExit(main())
