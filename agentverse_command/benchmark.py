"""agentverse-benchmark: run a whole benchmark concurrently, resumably, then grade it.

Examples:
  agentverse-benchmark --task tasksolving/math500/m1-32b --base-url http://gpu-node:8000/v1 --concurrency 64
  agentverse-benchmark --task tasksolving/humaneval/smollm2 --limit 3 --run-dir outputs/smoke
Run the same command again after an interruption (even kill -9): finished problems are kept,
the rest (problems that ended in an infrastructure error, and problems whose content changed)
are run. The exit code is 1 when more problems ended in an error than --max-errors allows
(default: none), after everything has been written.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import sys
from pathlib import Path

import yaml

from agentverse.config.loader import TASK_CONFIG_FILE
from agentverse.config.schema import TaskConfig
from agentverse.llms.base import ModelLoadError
from agentverse.llms.openai_backend import EndpointCheckError, MissingAPIKey, api_key_from
from agentverse.runs.runner import run_benchmark
from agentverse.runs.store import RunDirectory, RunDirError
from agentverse.runs.summary import RunSummary, aggregate, evaluate_run
from agentverse_command.common import (
    Interrupted,
    add_model_options,
    ctrl_c_is_one_line,
    load_config_or_exit,
    positive_seconds,
    run_interruptibly,
)
from agentverse_command.evaluate import print_aggregate, print_summary
from dataloader import DataError, load_samples
from dataloader.base import Sample


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agentverse-benchmark",
        description="Run a benchmark with the multi-agent loop (or the single-agent baseline) and grade it.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n", 1)[1],
    )
    parser.add_argument("--task", required=True, help="Task config, e.g. tasksolving/math500/m1-32b, or a path.")
    parser.add_argument("--data", type=Path, help="JSONL data file (default: data/<benchmark>/test.jsonl).")
    parser.add_argument("--limit", type=int, help="Only the first N problems.")
    parser.add_argument(
        "--concurrency",
        type=int,
        help="Problems in flight at once (default: the endpoints' request caps summed, which keeps them busy).",
    )
    parser.add_argument(
        "--run-dir",
        type=Path,
        help="Run directory (default: outputs/<benchmark>/<config folder>/run-K, e.g. outputs/math500/smollm2/run-1; "
        "--no-ceo and --single-agent add -no-ceo and -single-agent to the folder).",
    )
    parser.add_argument("--runs", type=int, default=1, help="Independent runs (run-1..run-N) to average over.")
    parser.add_argument("--single-agent", action="store_true", help="Baseline: one solver call per problem.")
    parser.add_argument("--no-shuffle", action="store_true", help="GPQA: keep the research code's option order.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the GPQA option shuffle.")
    parser.add_argument("--no-progress", action="store_true", help="No progress bar or progress lines.")
    parser.add_argument(
        "--heartbeat",
        type=positive_seconds,
        default=30.0,
        metavar="SECONDS",
        help="When stderr is not a terminal (a pipe, nohup, a SLURM log): a progress line every SECONDS "
        "(problems done, errors, score so far, calls in flight) instead of the bar (default 30).",
    )
    parser.add_argument(
        "--max-errors",
        type=error_allowance,
        default=0.0,
        metavar="N",
        help="Problems that may end in an infrastructure error before the exit code is 1: a count, "
        "or a fraction below 1 of the problems (default 0: any error).",
    )
    add_model_options(parser)
    return parser


class RunStopped(RuntimeError):
    """The run stopped early (every endpoint down); what was recorded is kept."""


def error_allowance(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a count or a fraction, got {text!r}") from None
    if value < 0 or (value >= 1 and not value.is_integer()):
        raise argparse.ArgumentTypeError(f"expected a count (0, 1, 2, ...) or a fraction below 1, got {text!r}")
    return value


def too_many_errors(summary: RunSummary, allowance: float) -> bool:
    allowed = allowance * summary.problems if 0 < allowance < 1 else allowance
    return summary.errors > allowed


def report_errors(summary: RunSummary, allowance: float) -> None:
    ids = ", ".join(problem.id for problem in summary.error_problems)
    print(
        f"error: {summary.errors} of {summary.problems} problems in {summary.run_dir} ended in an error "
        f"(--max-errors {allowance:g}); they are excluded from the score. "
        f"Run the same command again to retry them: {ids}",
        file=sys.stderr,
    )


def prepare_or_explain(run_dir: RunDirectory, config: TaskConfig, held: contextlib.ExitStack) -> None:
    """Lock and prepare a run directory; a directory that cannot be written is one clear error."""
    try:
        held.enter_context(run_dir.exclusive())
        run_dir.prepare(config)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        where = error.filename or run_dir.path
        raise RunDirError(f"{run_dir.path}: cannot write the run directory ({reason}: {where})") from None


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "model"


def config_folder_name(config_path: Path) -> str:
    """What names a task config's runs: its folder (`tasksolving/math500/smollm2` -> `smollm2`), or
    the file's stem for a config file not named config.yaml (`math500-small.yaml` -> `math500-small`)."""
    return slug(config_path.parent.name if config_path.name == TASK_CONFIG_FILE else config_path.stem)


def configured_model(config_path: Path) -> str | None:
    """The model the config file itself names (before --model)."""
    try:
        raw = yaml.safe_load(config_path.read_text(encoding="utf-8"))
        return str(raw["llm"]["model"])
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return None


def run_dirs(args: argparse.Namespace, config: TaskConfig, config_path: Path) -> list[Path]:
    """--run-dir as given, or `outputs/<benchmark>/<config folder>[-<model>][-no-ceo|-single-agent]/run-K`:
    the baselines get their own folders, so they never resume into (or overwrite) the CEO run, and so
    does another model given with --model than the config's own."""
    if args.run_dir is not None and args.runs == 1:
        return [args.run_dir]
    suffix = "-single-agent" if args.single_agent else "-no-ceo" if args.no_ceo else ""
    if args.model and args.model != configured_model(config_path):
        suffix = f"-{slug(args.model)}{suffix}"
    base = args.run_dir or Path("outputs") / config.task.name / f"{config_folder_name(config_path)}{suffix}"
    return [base / f"run-{index}" for index in range(1, args.runs + 1)]


def load_data_or_exit(config: TaskConfig, args: argparse.Namespace) -> list[Sample]:
    try:
        samples = load_samples(
            config.task.name, args.data, limit=args.limit, shuffle_options=not args.no_shuffle, seed=args.seed
        )
    except DataError as error:
        print(f"data error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    if not samples:
        print(f"data error: no problems to run in {args.data or config.task.name}", file=sys.stderr)
        raise SystemExit(2)
    return samples


async def run_all(
    config: TaskConfig, samples: list[Sample], directories: list[RunDirectory], args: argparse.Namespace
) -> list[RunSummary]:
    summaries = []
    for run_dir in directories:
        print(f"run directory: {run_dir.path}", file=sys.stderr)
        stats = await run_benchmark(
            config,
            samples,
            run_dir,
            concurrency=args.concurrency,
            single_agent=args.single_agent,
            progress=not args.no_progress,
            progress_interval_s=args.heartbeat,
        )
        print(
            f"{stats.done} run, {stats.skipped} resumed, {stats.errors} errors, {stats.wall_time_s:.1f} s",
            file=sys.stderr,
        )
        if stats.stopped is not None:
            lost = f"; {len(stats.lost)} finished problems could not be written" if stats.lost else ""
            raise RunStopped(f"{stats.stopped}; {stats.not_started} problems not started{lost} (run again to resume)")
        # The runner graded every problem once; the summary reads those grades.
        summaries.append(await evaluate_run(run_dir.path))
    return summaries


@ctrl_c_is_one_line
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if (args.concurrency is not None and args.concurrency < 1) or args.runs < 1:
        print("error: --concurrency and --runs must be at least 1", file=sys.stderr)
        return 2
    config, config_path = load_config_or_exit(args.task, args)
    samples = load_data_or_exit(config, args)
    directories = [RunDirectory(path) for path in run_dirs(args, config, Path(config_path))]
    try:
        if config.llm.backend == "openai":
            api_key_from(config.llm)  # before anything is written
        with contextlib.ExitStack() as held:
            for run_dir in directories:
                prepare_or_explain(run_dir, config, held)
            summaries = asyncio.run(run_interruptibly(run_all(config, samples, directories, args)))
    except (RunDirError, MissingAPIKey, EndpointCheckError, ModelLoadError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except RunStopped as stopped:
        print(f"error: {stopped}", file=sys.stderr)
        return 1
    except Interrupted as interrupted:
        places = ", ".join(str(run_dir.path) for run_dir in directories)
        print(
            f"interrupted ({interrupted}): finished problems are saved in {places}; run again to resume",
            file=sys.stderr,
        )
        return interrupted.exit_code
    for summary in summaries:
        print_summary(summary)
    if len(summaries) > 1:
        print_aggregate(aggregate(summaries))
    failing = [summary for summary in summaries if too_many_errors(summary, args.max_errors)]
    for summary in failing:
        report_errors(summary, args.max_errors)
    return 1 if failing else 0


if __name__ == "__main__":
    raise SystemExit(main())
