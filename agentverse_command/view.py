"""agentverse-view: look at runs in the browser (runs, problem tables, each problem's rounds and
calls, two runs side by side; runs in progress update as records arrive).

Examples:
  agentverse-view outputs/math500/m1-32b outputs/math500/m1-32b-no-ceo
  agentverse-view outputs/sweeps/max-turn --port 7575
  agentverse-view outputs/math500/m1-32b/run-1 --export report.html
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from agentverse.view.export import AssetsMissing, export_html
from agentverse.view.runs import Run, RunRegistry, find_sweeps
from agentverse.view.server import KATEX, serve
from agentverse_command.common import Interrupted, ctrl_c_is_one_line, run_interruptibly


def port_number(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text} is not a port (0-65535)")
    return port


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="agentverse-view", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("paths", nargs="+", type=Path, help="Run directories, folders of runs, or sweep directories.")
    parser.add_argument("--port", type=port_number, default=7575, help="Port (default 7575; 0: a free one).")
    parser.add_argument(
        "--host", default="127.0.0.1", help="Address to serve on (default 127.0.0.1: this machine only)."
    )
    parser.add_argument(
        "--export", type=Path, metavar="FILE", help="Write one self-contained HTML file instead of serving."
    )
    return parser.parse_args(argv)


@ctrl_c_is_one_line
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    missing = [str(path) for path in args.paths if not path.exists()]
    if missing:
        print(f"agentverse-view: no such directory: {', '.join(missing)}", file=sys.stderr)
        return 2
    registry = RunRegistry(args.paths)
    runs = registry.all()
    if not runs:
        print(
            f"agentverse-view: no run directory (records.jsonl) under {', '.join(map(str, args.paths))}",
            file=sys.stderr,
        )
        return 2
    if args.export is not None:
        return export(runs, args.paths, args.export)
    if not (KATEX / "katex.min.js").exists():
        print(
            "warning: KaTeX is not installed (bash scripts/build_viewer_assets.sh); math shows as TeX", file=sys.stderr
        )
    try:
        asyncio.run(run_interruptibly(serve(registry, args.host, args.port)))
    except Interrupted as stop:
        print(f"agentverse-view: stopped ({stop})", file=sys.stderr)
        return stop.exit_code
    except OSError as error:
        print(f"agentverse-view: cannot serve on {args.host}:{args.port}: {error.strerror or error}", file=sys.stderr)
        return 2
    return 0


def export(runs: list[Run], paths: list[Path], output: Path) -> int:
    try:
        size = export_html(runs, output, find_sweeps(paths, runs))
    except AssetsMissing as error:
        print(f"agentverse-view: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"agentverse-view: cannot write {output}: {error.strerror or error}", file=sys.stderr)
        return 2
    problems = sum(len(run.current_rows()[0]) for run in runs)  # what was exported: each run's slice
    print(f"wrote {output} ({size / 1e6:.1f} MB: {len(runs)} runs, {problems} problems)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
