"""agentverse-report: a markdown table (next to the paper's Table 1) and PNG plots.

Example: agentverse-report outputs/*/m1-32b --out outputs/report
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from agentverse.config.loader import ConfigError
from agentverse.runs.report import write_report
from agentverse_command.evaluate import evaluate_all, expand_run_dirs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="agentverse-report", description=__doc__.splitlines()[0])
    parser.add_argument("run_dirs", nargs="+", type=Path, help="Run directories, or folders of run-* directories.")
    parser.add_argument("--out", type=Path, default=Path("outputs/report"), help="Where to write the report.")
    args = parser.parse_args(argv)
    try:
        paths = expand_run_dirs(args.run_dirs, None)
        summaries = asyncio.run(evaluate_all(paths))
    except (FileNotFoundError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path in write_report(summaries, paths, args.out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
