"""agentverse-tasksolving: solve one problem with the multi-agent loop and watch every round.

Example (embedded model, no GPU, no key):
  agentverse-tasksolving --task tasksolving/humaneval/smollm2 --input "Write add(a, b) returning a + b."
Against a server:
  agentverse-tasksolving --task tasksolving/math500/m1-32b --base-url http://gpu-node:8000/v1 --input "..."
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from agentverse.config.schema import TaskConfig
from agentverse.environments.tasksolving.environment import ProblemResult, TaskSolvingEnvironment
from agentverse.llms.base import ModelLoadError
from agentverse.llms.openai_backend import MissingAPIKey
from agentverse.llms.pool import ModelPool
from agentverse.trace import CallRecord, Notice, Observer, TraceEvent
from agentverse_command.common import (
    Interrupted,
    add_model_options,
    ctrl_c_is_one_line,
    load_config_or_exit,
    positive_seconds,
    run_interruptibly,
)
from agentverse_command.console import LiveStatus, table
from dataloader.base import Sample

PREVIEW = 600


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agentverse-tasksolving",
        description="Solve one problem with the CEO-led multi-agent loop.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n", 1)[1],
    )
    parser.add_argument("--task", required=True, help="Task config, e.g. tasksolving/humaneval/smollm2, or a path.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", help="The problem text.")
    source.add_argument("--input-file", type=Path, help="A file holding the problem text.")
    parser.add_argument("--output", type=Path, help="Where to save the trace JSON (default: outputs/traces/).")
    parser.add_argument("--full", action="store_true", help="Print whole replies instead of previews.")
    parser.add_argument("--quiet", action="store_true", help="Print only the final answer.")
    parser.add_argument(
        "--heartbeat",
        type=positive_seconds,
        default=5.0,
        metavar="SECONDS",
        help="While a model call runs and stderr is not a terminal, a line every SECONDS naming the agent "
        "at work (default 5); on a terminal a spinner line instead.",
    )
    add_model_options(parser)
    return parser


def shorten(text: str | None, full: bool) -> str:
    text = (text or "").strip()
    return text if full or len(text) <= PREVIEW else text[:PREVIEW] + f" ... [{len(text) - PREVIEW} more chars]"


class Printer:
    """Prints each model call and loop event as it happens, as readable lines, and keeps the live
    status (which agent is working) informed of the calls in flight."""

    def __init__(self, full: bool, status: LiveStatus | None = None) -> None:
        self.full = full
        self.status = status
        self.clamped: dict[int, dict[str, Any]] = {}  # the CEO's clamped numbers, by round

    def __call__(self, item: Notice) -> None:
        if isinstance(item, CallRecord):
            self.call(item)
        elif isinstance(item, TraceEvent):
            self.event(item)
        elif self.status is not None:
            self.status.observe(item)

    def say(self, text: str) -> None:
        if self.status is not None:
            self.status.clear()
        print(text, flush=True)  # flushed line by line: a pipe or a log shows each as it happens

    def call(self, record: CallRecord) -> None:
        header = (
            f"  [{record.agent}] {record.status}, attempt {record.attempt}, "
            f"{record.prompt_tokens}+{record.completion_tokens} tokens, {record.latency_s:.1f} s, "
            f"max_tokens {record.generation.max_tokens}"
        )
        flags = [flag for flag in ("truncated", "forced_answer") if getattr(record, flag)]
        self.say(header + (f" ({', '.join(flags)})" if flags else ""))
        if record.error:
            self.say(f"    error: {record.error}")
        if record.content is not None:
            self.say("    " + shorten(record.content, self.full).replace("\n", "\n    "))

    def event(self, event: TraceEvent) -> None:
        if event.kind == "ceo_clamped":
            self.clamped[event.round] = event.detail  # shown on the decision's line, which follows
            return
        for line in event_lines(event, self.clamped.get(event.round, {}), self.full):
            self.say(line)


def budget_text(max_tokens: int | None, clamped: dict[str, Any]) -> str:
    if max_tokens is None:
        return "each agent's own"
    asked = clamped.get("max_tokens")
    return f"{max_tokens}" + (f" (clamped from {asked['asked']})" if asked else "")


def ceo_line(detail: dict[str, Any], clamped: dict[str, Any], full: bool) -> str:
    recruits = clamped.get("recruit_number")
    team = f"recruit {detail['recruit_number']}" + (f" (asked {recruits['asked']})" if recruits else "")
    budget = budget_text(detail["max_tokens"], clamped)
    if detail["source"] == "fixed":
        return f"no CEO: {team}, budget {budget}"
    who = "CEO" if detail["source"] == "ceo" else "CEO (reply unreadable: the configured team and budgets)"
    direction = shorten(detail["direction"], full)
    return f"{who}: {detail['decision']}, {team}, budget {budget}" + (f"  direction: {direction}" if direction else "")


def verdict_text(agree: bool | None) -> str:
    return "no verdict (reply unreadable)" if agree is None else "agree" if agree else "disagree"


def evaluation_text(detail: dict[str, Any], full: bool) -> str:
    if detail.get("correct") is None:
        return "evaluator: no verdict (reply unreadable)"
    advice = shorten(detail.get("advice"), full)
    suggestion = shorten(detail.get("recruiting_suggestion"), full)
    return (
        f"evaluator: {int(detail['correct'])}"
        + (f"  advice: {advice}" if advice else "")
        + (f"  recruiting suggestion: {suggestion}" if suggestion else "")
    )


def executor_text(detail: dict[str, Any], full: bool) -> str:
    outcome = {True: "passed", False: "failed", None: "ran"}[detail.get("passed")]
    return f"executor: {outcome}  {shorten(detail.get('summary'), full)}".rstrip()


ENDINGS = {
    "ceo_stop": "the CEO stopped",
    "evaluator_correct": "the evaluator judged the solution correct",
    "max_turn": "the last round has run",
    "solver_failed": "the solver produced no readable solution",
    "single_agent": "the single agent answered",
    "self_consistency": "the vote is taken",
    "error": "an infrastructure error",
}


def warning_text(event: TraceEvent) -> str:
    detail = event.detail
    agent = detail.get("agent")
    texts = {
        "fallback": lambda: f"{agent} reply unreadable, using {detail.get('used')}: {detail.get('error')}",
        "ceo_stop_ignored": lambda: f"the CEO said stop; ignored: {detail.get('reason')}",
        "agent_failed": lambda: f"{agent} failed: {detail.get('error')}",
        "infrastructure_error": lambda: f"{agent}: infrastructure error: {detail.get('error')}",
    }
    return f"! round {event.round}  {texts[event.kind]()}"


def event_lines(event: TraceEvent, clamped: dict[str, Any], full: bool) -> list[str]:
    """How one loop event reads on the terminal (none for events the call lines already show)."""
    detail, prefix = event.detail, f"round {event.round}  "
    if event.kind == "round_start":
        return ["", f"=== round {event.round} ==="]
    if event.kind in ("fallback", "ceo_stop_ignored", "agent_failed", "infrastructure_error"):
        return [warning_text(event)]
    if event.kind == "roles":
        names = ["solver", *(f"critic {index}" for index in range(1, len(detail["roles"])))]
        return [f"{prefix}{name} role: {role}" for name, role in zip(names, detail["roles"], strict=True)]
    if event.kind == "critic_verdicts":
        return [f"{prefix}critic {index}: {verdict_text(agree)}" for index, agree in enumerate(detail["agree"], 1)]
    texts = {
        "ceo_decision": lambda: ceo_line(detail, clamped, full),
        "consensus": lambda: f"consensus: every critic agrees (review {detail.get('inner_turn')})",
        "executor": lambda: executor_text(detail, full),
        "evaluation": lambda: evaluation_text(detail, full),
        "termination": lambda: f"end: {ENDINGS.get(detail.get('reason', ''), detail.get('reason'))}",
        "vote": lambda: (
            f"vote: {detail.get('answered')} of {detail.get('samples')} samples answered, "
            f"chosen: {shorten(detail.get('chosen'), full) or 'none'}"
        ),
    }
    return [prefix + texts[event.kind]()] if event.kind in texts else []


class Collector:
    """Keeps every call and event as it happens (and passes it on), so an interrupted run can
    still save what it did."""

    def __init__(self, forward: Observer | None) -> None:
        self.forward = forward
        self.calls: list[CallRecord] = []
        self.events: list[TraceEvent] = []

    def __call__(self, item: Notice) -> None:
        if isinstance(item, CallRecord):
            self.calls.append(item)
        elif isinstance(item, TraceEvent):
            self.events.append(item)
        if self.forward is not None:
            self.forward(item)

    def partial_trace(self, reason: str) -> str:
        return json.dumps(
            {
                "status": "interrupted",
                "reason": reason,
                "calls": [call.model_dump(mode="json") for call in self.calls],
                "events": [event.model_dump(mode="json") for event in self.events],
            },
            indent=2,
        )


async def solve(
    config: TaskConfig, sample: Sample, observer: Observer | None, status: LiveStatus | None
) -> ProblemResult:
    models = ModelPool.from_config(config)
    ticker = asyncio.ensure_future(status.run()) if status is not None else None
    try:
        await load_models(models, status)
        return await TaskSolvingEnvironment(config, models).solve(sample, observer)
    finally:
        if ticker is not None:
            ticker.cancel()
        await models.aclose()


async def load_models(models: ModelPool, status: LiveStatus | None) -> None:
    """Load an in-process model before the first call, as its own step with its own time."""
    if status is None:  # --quiet
        await models.prepare(lambda line: None)
        return

    def report(line: str) -> None:
        status.clear()
        print(line, flush=True)

    with status.activity("loading model"):
        await models.prepare(report)


def save_trace(text: str, output: Path | None) -> Path:
    if output is None:
        output = Path("outputs") / "traces" / f"trace-{time.strftime('%Y%m%d-%H%M%S')}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    return output


def print_summary(result: ProblemResult) -> None:
    print("\n=== result ===")
    print(f"status: {result.status}  termination: {result.termination}  rounds: {result.rounds}")
    print(
        f"evaluator says correct: {result.evaluator_correct}  fallbacks: {result.fallbacks}  "
        f"failed calls: {result.failed_calls}  wall time: {result.wall_time_s:.1f} s"
    )
    rows = [
        (agent, usage.calls, usage.failed_calls, f"{usage.prompt_tokens:,}", f"{usage.completion_tokens:,}",
         f"{usage.latency_s:.1f}")
        for agent, usage in result.usage.items()
    ]  # fmt: skip
    for line in table(("agent", "calls", "failed", "prompt tokens", "completion tokens", "seconds"), rows):
        print(line)


@ctrl_c_is_one_line
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config, _ = load_config_or_exit(args.task, args)
    try:
        text = args.input if args.input is not None else args.input_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        print(f"error: --input-file {args.input_file}: {getattr(error, 'strerror', None) or error}", file=sys.stderr)
        return 2
    if not text.strip():
        print("error: --input: the problem text is empty", file=sys.stderr)
        return 2
    sample = Sample(id="cli", input=text, target="", metadata={})
    status = None if args.quiet else LiveStatus(sys.stderr, args.heartbeat)
    collector = Collector(None if status is None else Printer(args.full, status))
    try:
        result = asyncio.run(run_interruptibly(solve(config, sample, collector, status)))
    except MissingAPIKey as error:
        print(f"config error: {error}", file=sys.stderr)
        return 2
    except ModelLoadError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Interrupted as interrupted:
        path = save_trace(collector.partial_trace(str(interrupted)), args.output)
        print(f"interrupted ({interrupted}): the trace so far is saved to {path}", file=sys.stderr)
        return interrupted.exit_code
    if not args.quiet:
        print_summary(result)
    print("\n=== final answer ===")
    reason = result.error or "the solver produced no readable solution"
    print(result.final_answer if result.final_answer is not None else f"(none: {reason})")
    path = save_trace(result.model_dump_json(indent=2), args.output)
    print(f"\ntrace saved to {path}")
    return 0 if result.status == "ok" else 1


if __name__ == "__main__":
    raise SystemExit(main())
