"""agentverse-evaluate: grade saved run directories and summarize them (never calls a model).

Examples:
  agentverse-evaluate outputs/math500/m1-32b/run-1
  agentverse-evaluate outputs/math500/m1-32b            # every run-* inside, averaged
  agentverse-evaluate outputs/math500/m1-32b --runs 3   # the first three runs
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from agentverse.config.loader import ConfigError
from agentverse.graders.judge import JudgeError
from agentverse.runs.store import CONFIG_FILE
from agentverse.runs.summary import JudgeSettings, aggregate, evaluate_run


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


def print_summary(summary: dict[str, Any]) -> None:
    score = "n/a" if summary["score"] is None else f"{summary['score']:.1f}%"
    self_judged = summary["evaluator_self_accuracy"]
    print(f"\n{summary['task']} / {summary['model']}  ({summary['run_dir']})")
    print(f"  {summary['metric']}: {score} over {summary['solved']} solved problems")
    print(f"  failed by the system (not counted as wrong): {summary['failed']} of {summary['problems']}")
    print(f"  grades: {summary['grades']}  grader errors: {summary['grader_errors']}")
    print(f"  evaluator self-judged accuracy: {'n/a' if self_judged is None else f'{self_judged:.1f}%'}")
    rounds = summary["mean_rounds"]
    print(f"  mean rounds: {'n/a' if rounds is None else f'{rounds:.2f}'}  terminations: {summary['terminations']}")
    print(f"  CEO: {json.dumps(summary['ceo'], default=str)}")
    print(f"  failed calls: {summary['failed_calls']}  mean tokens/problem: {summary['mean_tokens_per_problem']}")
    for agent, usage in summary["tokens_by_agent"].items():
        print(f"    {agent:<14} {usage}")
    if "judge" in summary:
        judged = summary["judge"]
        print(
            f"  LLM judge {judged['model']}: {judged['score']} (agreement with rules {judged['agreement_with_rules']})"
        )
    wall = summary["run_wall_time_s"]
    print(f"  run wall time: {'n/a' if wall is None else f'{wall:.1f}s'}")


async def evaluate_all(paths: list[Path], judge: JudgeSettings | None = None) -> list[dict[str, Any]]:
    return [await evaluate_run(path, judge) for path in paths]


def judge_settings(args: argparse.Namespace) -> JudgeSettings | None:
    if not args.judge_model:
        return None
    if not args.judge_base_url:
        raise ValueError("--judge-model needs --judge-base-url")
    return JudgeSettings(args.judge_model, args.judge_base_url, args.judge_api_key_env, args.judge_temperature)


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
    judge = parser.add_argument_group("optional LLM judge (the paper scored math with DeepSeek-V3 at temperature 0.7)")
    judge.add_argument("--judge-model", help="Judge model name; enables the judge (verdicts cached per run).")
    judge.add_argument("--judge-base-url", help="OpenAI-compatible base URL of the judge.")
    judge.add_argument("--judge-api-key-env", help="Name of the env var holding the judge's API key.")
    judge.add_argument("--judge-temperature", type=float, default=0.7, help="Judge sampling temperature.")
    args = parser.parse_args(argv)
    try:
        paths = expand_run_dirs(args.run_dirs, args.runs)
        summaries = asyncio.run(evaluate_all(paths, judge_settings(args)))
    except (FileNotFoundError, ConfigError, ValueError, JudgeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(summaries, indent=2, default=str))
    else:
        for summary in summaries:
            print_summary(summary)
    if len(summaries) > 1:
        print("\naverage over runs:\n" + json.dumps(aggregate(summaries), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
