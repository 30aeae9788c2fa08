#!/usr/bin/env python
"""Generate M500-style training data: run the MAS with a teacher model, keep only correct traces.

The paper's M500 traces came from running the multi-agent system with a strong reasoning
model and keeping good collaborative traces; that pipeline was never released. This script
does it with our loop: it runs a task config over a problem set (concurrently, resumably,
through `agentverse-benchmark`'s runner), grades every final answer with the rule-based
graders, and writes the traces whose answer is correct

  * in the M500 schema (question, solution, expert_recruiter_messages, problem_solver_messages,
    critic_messages, evaluator_messages), one JSON object per line, and
  * as LLaMA-Factory sharegpt data registered in dataset_info.json (via scripts/prepare_m500.py),

so `DATASET=<name> bash run/train.sh` can train on it.

Example:
  python scripts/generate_traces.py --task tasksolving/math500/m1-32b --base-url http://teacher:8000/v1 \\
      --model deepseek-r1 --limit 500 --dataset-name my_traces
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agentverse.graders.base import GradeStatus  # noqa: E402
from agentverse.runs.runner import run_benchmark  # noqa: E402
from agentverse.runs.store import RunDirectory, RunDirError, RunRecord  # noqa: E402
from agentverse.trace import CallRecord  # noqa: E402
from agentverse_command.benchmark import load_data_or_exit, slug  # noqa: E402
from agentverse_command.common import add_model_options, load_config_or_exit  # noqa: E402

# Our agent types -> the M500 column holding that agent's conversation.
COLUMNS = {
    "role_assigner": "expert_recruiter_messages",
    "solver": "problem_solver_messages",
    "critic": "critic_messages",
    "evaluator": "evaluator_messages",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__
    )
    parser.add_argument("--task", required=True, help="Task config used to generate, e.g. tasksolving/math500/m1-32b.")
    parser.add_argument("--data", type=Path, help="Problem set JSONL (default: data/<benchmark>/test.jsonl).")
    parser.add_argument("--limit", type=int, help="Only the first N problems.")
    parser.add_argument("--concurrency", type=int, default=16, help="Problems in flight.")
    parser.add_argument("--run-dir", type=Path, help="Run directory (resumable; default outputs/traces/...).")
    parser.add_argument("--out", type=Path, help="M500-schema JSONL to write (default data/generated/<name>.jsonl).")
    parser.add_argument("--dataset-name", help="Name registered in LLaMA-Factory's dataset_info.json.")
    parser.add_argument("--dataset-dir", type=Path, default=ROOT / "LLaMA-Factory" / "data", help="LLaMA-Factory data.")
    parser.add_argument("--no-reasoning", action="store_true", help="Drop <think> reasoning from the replies.")
    parser.add_argument("--tokenizer", default="none", help="Tokenizer for length statistics (default none).")
    parser.add_argument("--no-shuffle", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--no-progress", action="store_true", help="No progress bar.")
    add_model_options(parser)
    return parser


def assistant_text(call: CallRecord, include_reasoning: bool) -> str:
    content = call.content or ""
    if include_reasoning and call.reasoning:
        return f"<think>\n{call.reasoning}\n</think>\n\n{content}"
    return content


def conversation(calls: list[CallRecord], agent_type: str, include_reasoning: bool) -> list[dict[str, str]]:
    """The agent's last successful call: everything it was sent (its memory included) plus its reply."""
    successful = [call for call in calls if call.agent_type == agent_type and call.status == "ok"]
    if not successful:
        return []
    last = successful[-1]
    messages = [{"role": message["role"], "content": message["content"]} for message in last.messages]
    return [*messages, {"role": "assistant", "content": assistant_text(last, include_reasoning)}]


def m500_row(record: RunRecord, include_reasoning: bool) -> dict[str, Any]:
    assert record.result is not None
    row: dict[str, Any] = {
        "id": record.sample_id,
        "question": record.sample.input,
        "solution": record.result.final_answer,
        "answer": record.sample.target,
    }
    for agent_type, column in COLUMNS.items():
        row[column] = conversation(record.result.calls, agent_type, include_reasoning)
    return row


def correct_records(run_dir: RunDirectory) -> tuple[list[RunRecord], int]:
    records, _ = run_dir.slice_records(run_dir.read_slice())
    kept: list[RunRecord] = []
    total = 0
    for record in records:
        total += 1
        if record.status == "ok" and record.grade is not None and record.grade.status == GradeStatus.CORRECT:
            kept.append(record)
    return kept, total


def write_jsonl(rows: list[dict[str, Any]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    temporary.replace(path)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config, _ = load_config_or_exit(args.task, args)
    samples = load_data_or_exit(config, args)
    name = args.dataset_name or f"{config.task.name}_{slug(config.llm.model)}_traces"
    run_dir = RunDirectory(args.run_dir or ROOT / "outputs" / "traces" / config.task.name / slug(config.llm.model))
    try:
        run_dir.prepare(config)
    except RunDirError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    asyncio.run(run_benchmark(config, samples, run_dir, concurrency=args.concurrency, progress=not args.no_progress))
    kept, total = correct_records(run_dir)
    out = args.out or ROOT / "data" / "generated" / f"{name}.jsonl"
    write_jsonl([m500_row(record, not args.no_reasoning) for record in kept], out)
    print(f"kept {len(kept)} correct traces of {total} problems -> {out}")
    if not kept:
        print("error: no correct trace to convert", file=sys.stderr)
        return 1
    command = [
        sys.executable,
        str(ROOT / "scripts" / "prepare_m500.py"),
        "--input",
        str(out),
        "--dataset-name",
        name,
        "--dataset-dir",
        str(args.dataset_dir),
        "--tokenizer",
        args.tokenizer,
    ]
    return subprocess.run(command, check=False).returncode


if __name__ == "__main__":
    raise SystemExit(main())
