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

from agentverse.config.schema import TaskConfig
from agentverse.environments.tasksolving.environment import ProblemResult, TaskSolvingEnvironment
from agentverse.llms.client import LLMClient
from agentverse.llms.openai_backend import MissingAPIKey
from agentverse.trace import CallRecord, Observer, TraceEvent
from agentverse_command.common import Interrupted, add_model_options, load_config_or_exit, run_interruptibly
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
    add_model_options(parser)
    return parser


def shorten(text: str | None, full: bool) -> str:
    text = (text or "").strip()
    return text if full or len(text) <= PREVIEW else text[:PREVIEW] + f" ... [{len(text) - PREVIEW} more chars]"


class Printer:
    """Prints each model call and loop event as it happens."""

    def __init__(self, full: bool) -> None:
        self.full = full

    def __call__(self, item: CallRecord | TraceEvent) -> None:
        if isinstance(item, CallRecord):
            self.call(item)
        else:
            self.event(item)

    def call(self, record: CallRecord) -> None:
        header = (
            f"  [{record.agent}] {record.status}, attempt {record.attempt}, "
            f"{record.prompt_tokens}+{record.completion_tokens} tokens, {record.latency_s:.1f}s, "
            f"max_tokens {record.generation.max_tokens}"
        )
        flags = [flag for flag in ("truncated", "forced_answer") if getattr(record, flag)]
        print(header + (f" ({', '.join(flags)})" if flags else ""))
        if record.error:
            print(f"    error: {record.error}")
        if record.content is not None:
            print("    " + shorten(record.content, self.full).replace("\n", "\n    "))

    def event(self, event: TraceEvent) -> None:
        detail = event.detail
        if event.kind == "round_start":
            print(f"\n=== round {event.round} ===")
        elif event.kind == "ceo_decision":
            print(
                f"* CEO ({detail['source']}): {detail['decision']}, recruit {detail['recruit_number']}, "
                f"max_tokens {detail['max_tokens']}, direction: {shorten(detail['direction'], self.full)}"
            )
        elif event.kind == "roles":
            for index, role in enumerate(detail["roles"]):
                print(f"* {'solver' if index == 0 else f'critic {index}'}: {role}")
        elif event.kind in ("critic_verdicts", "consensus", "executor", "evaluation", "termination"):
            print(f"* {event.kind}: {json.dumps(detail, ensure_ascii=False)[:PREVIEW]}")
        elif event.kind in ("fallback", "ceo_clamped", "ceo_stop_ignored", "agent_failed", "infrastructure_error"):
            print(f"! {event.kind}: {json.dumps(detail, ensure_ascii=False)}")


class Collector:
    """Keeps every call and event as it happens (and passes it on), so an interrupted run can
    still save what it did."""

    def __init__(self, forward: Observer | None) -> None:
        self.forward = forward
        self.calls: list[CallRecord] = []
        self.events: list[TraceEvent] = []

    def __call__(self, item: CallRecord | TraceEvent) -> None:
        (self.calls if isinstance(item, CallRecord) else self.events).append(item)  # type: ignore[arg-type]
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


async def solve(config: TaskConfig, sample: Sample, observer: Observer | None) -> ProblemResult:
    llm = LLMClient.from_config(config.llm)
    try:
        return await TaskSolvingEnvironment(config, llm).solve(sample, observer)
    finally:
        await llm.aclose()


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
        f"failed calls: {result.failed_calls}  wall time: {result.wall_time_s:.1f}s"
    )
    for agent_type, usage in result.usage.items():
        print(
            f"  {agent_type:<14} calls {usage.calls:>2} (failed {usage.failed_calls}), "
            f"tokens {usage.prompt_tokens}+{usage.completion_tokens}, time {usage.latency_s:.1f}s"
        )


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
    collector = Collector(None if args.quiet else Printer(args.full))
    try:
        result = asyncio.run(run_interruptibly(solve(config, sample, collector)))
    except MissingAPIKey as error:
        print(f"config error: {error}", file=sys.stderr)
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
