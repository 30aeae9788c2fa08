"""agentverse-evaluate: summarize saved run directories (calls a model only for an LLM judge you name).

Each problem was graded once, when it was run; the summary reads those grades. --regrade grades
the saved final answers again (e.g. after a grader fix) and stores the new grades' summary.

Examples:
  agentverse-evaluate outputs/math500/m1-32b/run-1
  agentverse-evaluate outputs/math500/m1-32b            # every run-* inside, averaged
  agentverse-evaluate outputs/math500/m1-32b --runs 3   # the first three runs
  agentverse-evaluate outputs/math500/m1-32b --regrade
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from agentverse.config.loader import ConfigError
from agentverse.environments.tasksolving.environment import AgentUsage, completion_shares
from agentverse.graders.judge import JudgeError
from agentverse.runs.store import CONFIG_FILE
from agentverse.runs.summary import (
    CEOStatistics,
    JudgeSettings,
    RunsAggregate,
    RunSummary,
    aggregate,
    evaluate_run,
)
from agentverse_command.common import Interrupted, ctrl_c_is_one_line, run_interruptibly
from agentverse_command.console import counts_text, table, tally_text


def expand_run_dirs(paths: list[Path], runs: int | None) -> list[Path]:
    """A run directory as is; a folder of run-* directories expands to them (sorted)."""
    expanded: list[Path] = []
    for path in paths:
        if (path / CONFIG_FILE).exists():
            expanded.append(path)
            continue
        children = sorted(child for child in path.glob("*") if (child / CONFIG_FILE).exists())
        if not children:
            raise FileNotFoundError(f"{path}: no run directory here (no {CONFIG_FILE})")
        expanded.extend(children[:runs] if runs else children)
    return expanded


def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}%"


def usage_rows(split: dict[str, AgentUsage]) -> list[tuple[object, ...]]:
    return [
        (
            name,
            f"{usage.calls:,}",
            f"{usage.failed_calls:,}",
            f"{usage.prompt_tokens:,}",
            f"{usage.completion_tokens:,}",
        )
        for name, usage in split.items()
    ]


USAGE_HEADERS = ("calls", "failed", "prompt tokens", "completion tokens")


def print_shares(label: str, split: dict[str, AgentUsage]) -> None:
    """Tokens by model or by endpoint, with each one's share of the completion tokens."""
    shares = completion_shares(split)
    rows = [
        (*row, f"{shares[name]:.1f}%", f"{usage.mean_latency_s or 0:.2f}")
        for row, (name, usage) in zip(usage_rows(split), split.items(), strict=True)
    ]
    for line in table((label, *USAGE_HEADERS, "share", "mean s/call"), rows, indent="    "):
        print(line)


def ceo_lines(ceo: CEOStatistics) -> list[str]:
    return [
        f"  CEO: {ceo.decisions:,} decisions (by source: {counts_text(ceo.by_source)}), "
        f"stop {ceo.stop:,}, clamped {ceo.clamped:,}",
        f"    recruit number: {tally_text(ceo.recruit_number)}",
        f"    budget (max tokens; None: each agent's own): {tally_text(ceo.max_tokens)}",
        f"    fallbacks by agent: {counts_text(ceo.fallbacks)}",
    ]


def print_summary(summary: RunSummary) -> None:
    print(f"\n{summary.task} / {summary.model} ({summary.mode})  ({summary.run_dir})")
    spread = "" if summary.standard_error is None else f" ± {summary.standard_error:.1f}"
    print(f"  {summary.metric}: {percent(summary.score)}{spread} over {summary.completed} completed problems")
    print(f"  problems: {summary.problems}  completed: {summary.completed}  no answer: {summary.no_answer}")
    print(f"  errors (infrastructure; excluded, retried on resume): {summary.errors}  not run: {summary.not_run}")
    for problem in summary.error_problems[:10]:
        print(f"    {problem.id}: {problem.error}")
    print(f"  grades: {counts_text(summary.grades)}")
    print(
        f"  evaluator self-judged accuracy: {percent(summary.evaluator_self_accuracy)}"
        f"  (no verdict: {summary.evaluator_unjudged})"
    )
    rounds = "n/a" if summary.mean_rounds is None else f"{summary.mean_rounds:.2f}"
    print(f"  mean rounds: {rounds}  terminations: {counts_text(summary.terminations)}")
    for line in ceo_lines(summary.ceo):
        print(line)
    print(
        f"  fallbacks: {summary.fallbacks}  failed calls: {summary.failed_calls}  "
        f"context overflows: {summary.context_overflows}  replies cut at the length limit: {summary.truncated_replies}"
    )
    print_costs(summary)
    wall = summary.run_wall_time_s
    print(f"  run wall time: {'n/a' if wall is None else f'{wall:.1f} s'}")


def print_costs(summary: RunSummary) -> None:
    """Tokens per problem and by agent (by model and endpoint too for a mixed team), the judge, the load."""
    tokens = summary.mean_tokens_per_problem
    print(f"  mean tokens/problem: {'n/a' if tokens is None else f'{tokens:,.0f}'}")
    for line in table(("agent", *USAGE_HEADERS), usage_rows(summary.tokens_by_agent), indent="    "):
        print(line)
    for label, split in (("model", summary.tokens_by_model), ("endpoint", summary.tokens_by_endpoint)):
        if len(split) > 1:  # a mixed team: the cost by model and by endpoint
            print_shares(label, split)
    if summary.judge is not None:
        judged = summary.judge
        print(
            f"  LLM judge {judged.model}: {percent(judged.score)}"
            f" (agreement with rules {percent(judged.agreement_with_rules)})"
        )
    for load in summary.load:
        print(
            f"  in flight at {load.endpoint}: mean {load.mean_in_flight:.1f}, peak {load.peak_in_flight} "
            f"(cap {load.cap}); {load.requests:,} requests waited {load.waited_for_cap_s:.1f} s in all for the cap"
        )


def print_aggregate(combined: RunsAggregate) -> None:
    print(
        f"\naverage over {combined.runs} runs: {percent(combined.mean_score)} ± {combined.standard_error:.1f} "
        f"(standard error over problems and runs; stdev of the run scores {combined.stdev_score:.1f})"
    )
    scores = ", ".join(percent(score) for score in combined.scores)
    print(f"  {combined.metric or 'score'} of each run: {scores}")
    print(f"  problems: {combined.problems:,}  errors (excluded): {combined.errors:,}")


async def evaluate_all(
    paths: list[Path], judge: JudgeSettings | None = None, regrade_answers: bool = False
) -> list[RunSummary]:
    return [await evaluate_run(path, regrade_answers=regrade_answers, judge=judge) for path in paths]


def judge_settings(args: argparse.Namespace) -> JudgeSettings | None:
    if not args.judge_model:
        return None
    if not args.judge_base_url:
        raise ValueError("--judge-model needs --judge-base-url")
    return JudgeSettings(args.judge_model, args.judge_base_url, args.judge_api_key_env, args.judge_temperature)


@ctrl_c_is_one_line
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="agentverse-evaluate",
        description="Grade run directories and write summary.json into each.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n", 1)[1],
    )
    parser.add_argument("run_dirs", nargs="+", type=Path, help="Run directories, or folders of run-* directories.")
    parser.add_argument("--runs", type=int, help="Use only the first N runs of each folder.")
    parser.add_argument("--json", action="store_true", help="Print the summaries as JSON.")
    parser.add_argument(
        "--regrade", action="store_true", help="Grade the saved final answers again instead of reading stored grades."
    )
    judge = parser.add_argument_group("optional LLM judge (the paper scored math with DeepSeek-V3 at temperature 0.7)")
    judge.add_argument("--judge-model", help="Judge model name; enables the judge (verdicts cached per run).")
    judge.add_argument("--judge-base-url", help="OpenAI-compatible base URL of the judge.")
    judge.add_argument("--judge-api-key-env", help="Name of the env var holding the judge's API key.")
    judge.add_argument("--judge-temperature", type=float, default=0.7, help="Judge sampling temperature.")
    args = parser.parse_args(argv)
    try:
        paths = expand_run_dirs(args.run_dirs, args.runs)
        summaries = asyncio.run(run_interruptibly(evaluate_all(paths, judge_settings(args), args.regrade)))
    except (FileNotFoundError, ConfigError, ValueError, JudgeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: {error.filename or 'a run directory'}: {error.strerror or error}", file=sys.stderr)
        return 2
    except Interrupted as interrupted:
        print(f"interrupted ({interrupted}): summaries already written are kept", file=sys.stderr)
        return interrupted.exit_code
    if args.json:
        print(json.dumps([summary.model_dump(mode="json") for summary in summaries], indent=2))
    else:
        for summary in summaries:
            print_summary(summary)
    if len(summaries) > 1:
        print_aggregate(aggregate(summaries))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
