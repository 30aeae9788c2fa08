"""agentverse-sweep: a test-time scaling study in one command.

Runs every point of a grid of config overrides, with matched-compute baselines (a single agent
given the point's mean completion tokens; self-consistency with k samples and a majority vote),
all at once against the same endpoints, and writes points.csv, report.md and plots to --out.
Rerun the same command to resume (kill -9 safe): finished problems are kept.

Example sweep file:
  task: tasksolving/math500/m1-32b
  limit: 100
  runs: 3
  grid:
    environment.max_turn: [1, 2, 3]
    environment.rule.ceo.type: [basic, none]
  baselines:
    single_agent: {match: tokens}
    self_consistency: {k: [1, 4, 8]}

  agentverse-sweep sweep.yaml --base-url http://gpu-node:8000/v1 --out outputs/sweeps/math500
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from pathlib import Path

from agentverse.config.loader import ConfigError
from agentverse.llms.openai_backend import EndpointCheckError, MissingAPIKey, api_key_from
from agentverse.runs.store import RunDirError
from agentverse.sweeps.report import score_text, write_report
from agentverse.sweeps.run import Sweep
from agentverse.sweeps.spec import load_sweep
from agentverse_command.common import (
    Interrupted,
    add_model_options,
    ctrl_c_is_one_line,
    load_config_or_exit,
    run_interruptibly,
)
from dataloader import DataError, load_samples


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agentverse-sweep",
        description="Run a grid of configs with matched-compute baselines, concurrently, and report it.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n", 1)[1],
    )
    parser.add_argument("sweep", type=Path, help="The sweep file (YAML).")
    parser.add_argument("--out", type=Path, required=True, help="Where the run directories and the report go.")
    parser.add_argument(
        "--concurrency", type=int, help="Problems in flight, over all points (default: the endpoints' caps summed)."
    )
    parser.add_argument(
        "--heartbeat",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="A progress line on stderr this often (problem runs recorded so far; default 30).",
    )
    add_model_options(parser)
    return parser


@ctrl_c_is_one_line
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.concurrency is not None and args.concurrency < 1:
        print("error: --concurrency must be at least 1", file=sys.stderr)
        return 2
    try:
        spec = load_sweep(args.sweep)
    except ConfigError as error:
        print(f"sweep error: {error}", file=sys.stderr)
        return 2
    base, _ = load_config_or_exit(spec.task, args)
    try:
        samples = load_samples(base.task.name, spec.data, limit=spec.limit)
    except DataError as error:
        print(f"data error: {error}", file=sys.stderr)
        return 2
    try:
        sweep = Sweep(spec, base, samples, args.out, str(args.sweep))
        sweep.heartbeat_s = max(0.1, args.heartbeat)
        if base.llm.backend == "openai":
            api_key_from(base.llm)
        with contextlib.ExitStack() as held:
            systems = asyncio.run(run_interruptibly(sweep.run(args.concurrency, held)))
            rows = asyncio.run(write_report(spec, args.out, systems))
    except ConfigError as error:
        print(f"sweep error: {error}", file=sys.stderr)
        return 2
    except (RunDirError, MissingAPIKey, EndpointCheckError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Interrupted as interrupted:
        print(
            f"interrupted ({interrupted}): finished problems are saved under {args.out}; run again to resume",
            file=sys.stderr,
        )
        return interrupted.exit_code
    for row in rows:
        print(f"{row.system:<48} {score_text(row):>12}  {row.mean_completion_tokens:8.0f} tokens  {row.errors} errors")
    print(f"wrote {args.out / 'points.csv'}, {args.out / 'report.md'} and plots")
    if sweep.stopped:  # the report covers what is done; the rest is retried when run again
        print(f"error: not finished: {'; '.join(sweep.stopped)} (run again to resume)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
