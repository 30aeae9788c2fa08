"""agentverse-report: a markdown table (next to the paper's Table 1) and PNG plots.

Examples:
  agentverse-report outputs/*/m1-32b                          # writes outputs/reports/report-K (a new K each time)
  agentverse-report outputs/*/m1-32b --out outputs/table1     # a directory of your choice
  agentverse-report outputs/*/m1-32b --out outputs/table1 --force   # write into it again
A report never overwrites anything unless asked: without --out each call writes a fresh
outputs/reports/report-K; --out must be new or empty unless --force is given.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from agentverse.config.loader import ConfigError
from agentverse.runs.report import write_report
from agentverse_command.common import ctrl_c_is_one_line
from agentverse_command.evaluate import evaluate_all, expand_run_dirs

REPORTS = Path("outputs") / "reports"


class ReportDirError(ValueError):
    """The report directory holds files and --force was not given."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agentverse-report",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n", 1)[1],
    )
    parser.add_argument("run_dirs", nargs="+", type=Path, help="Run directories, or folders of run-* directories.")
    parser.add_argument(
        "--out",
        type=Path,
        help=f"Where to write the report: a new or empty directory (default: a fresh {REPORTS}/report-K).",
    )
    parser.add_argument("--force", action="store_true", help="Write into --out even when it holds files.")
    return parser


def fresh_report_dir(parent: Path = REPORTS) -> Path:
    """`parent/report-K` for the first K not taken."""
    index = 1
    while (parent / f"report-{index}").exists():
        index += 1
    return parent / f"report-{index}"


def report_dir(out: Path | None, force: bool) -> Path:
    if out is None:
        return fresh_report_dir()
    if out.is_dir() and any(out.iterdir()) and not force:
        raise ReportDirError(f"{out} already holds files; pass --force to write the report into it anyway")
    if out.exists() and not out.is_dir():
        raise ReportDirError(f"{out} is a file, not a directory")
    return out


@ctrl_c_is_one_line
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        output = report_dir(args.out, args.force)
        paths = expand_run_dirs(args.run_dirs, None)
        summaries = asyncio.run(evaluate_all(paths))
    except (FileNotFoundError, ConfigError, ReportDirError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path in write_report(summaries, paths, output):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
