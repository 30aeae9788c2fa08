#!/usr/bin/env python
"""Turn M500 multi-agent traces into LLaMA-Factory's sharegpt dataset (registered as `m500`).

Each row of M500 (hub `Can111/m500`, or a local JSON/JSONL/parquet file in the same schema) holds
four per-agent conversations: expert_recruiter_messages, problem_solver_messages, critic_messages
and evaluator_messages, each a list of {role, content}. Every selected agent's conversation becomes
one training conversation, its system/user/assistant turns kept in order. LLaMA-Factory requires
an optional system turn followed by strictly alternating user/assistant turns ending with the
assistant; conversations that break this are counted by reason and skipped (or repaired with
--repair), never dropped silently. Token lengths are reported against cutoff_len with the
tokenizer given by --tokenizer (pass `none` to skip).

Usage:
  python scripts/prepare_m500.py                                  # hub Can111/m500, needs internet
  python scripts/prepare_m500.py --input m500.jsonl --tokenizer .cache/smollm2-hf \
      --dataset-dir LLaMA-Factory/data --agents problem_solver,critic
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

AGENT_COLUMNS: dict[str, str] = {
    "expert_recruiter": "expert_recruiter_messages",
    "problem_solver": "problem_solver_messages",
    "critic": "critic_messages",
    "evaluator": "evaluator_messages",
}
ROLES = ("system", "user", "assistant")
DEFAULT_HUB_DATASET = "Can111/m500"
DEFAULT_TOKENIZER = "Qwen/Qwen2.5-32B-Instruct"
DEFAULT_DATASET_DIR = Path(__file__).resolve().parent.parent / "LLaMA-Factory" / "data"

Row = dict[str, Any]
Message = dict[str, str]
HubLoader = Callable[[str, str], Iterable[Row]]


class InputError(ValueError):
    """The input file or dataset does not have the M500 shape."""


@dataclass
class ConversionReport:
    """What happened to every row and conversation, so nothing is dropped silently."""

    rows: int = 0
    conversations_written: int = 0
    repaired: int = 0
    written_per_agent: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    skipped_examples: list[str] = field(default_factory=list)

    def skip(self, reason: str, where: str) -> None:
        self.skipped[reason] += 1
        if len(self.skipped_examples) < 10:
            self.skipped_examples.append(f"{where}: {reason}")


# ---------------------------------------------------------------- loading


def load_from_hub(dataset_name: str, split: str) -> Iterable[Row]:
    """Default hub loader; tests inject their own so that nothing touches the network."""
    import datasets

    return datasets.load_dataset(dataset_name, split=split)


def read_local_rows(path: Path) -> list[Row]:
    """Rows from a .json (a list of rows), .jsonl or .parquet file."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet

        return pyarrow.parquet.read_table(path).to_pylist()
    text = path.read_text(encoding="utf-8")
    if suffix == ".json":
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as error:
            raise InputError(f"{path}: not valid JSON ({error})") from error
        if not isinstance(rows, list):
            raise InputError(f"{path}: expected a JSON list of rows, got {type(rows).__name__}")
        return rows
    if suffix == ".jsonl":
        return [_parse_json_line(path, number, line) for number, line in _numbered_lines(text)]
    raise InputError(f"{path}: unsupported extension {suffix!r} (use .json, .jsonl or .parquet)")


def _numbered_lines(text: str) -> Iterable[tuple[int, str]]:
    return ((number, line) for number, line in enumerate(text.splitlines(), start=1) if line.strip())


def _parse_json_line(path: Path, number: int, line: str) -> Row:
    try:
        return json.loads(line)
    except json.JSONDecodeError as error:
        raise InputError(f"{path}:{number}: not valid JSON ({error})") from error


def load_rows(input_path: Path | None, hub_dataset: str, split: str, hub_loader: HubLoader) -> list[Row]:
    if input_path is not None:
        return read_local_rows(input_path)
    return [dict(row) for row in hub_loader(hub_dataset, split)]


# ---------------------------------------------------------------- validation and conversion


def conversation_problem(messages: Any) -> str | None:
    """Why `messages` is not a valid sharegpt conversation for LLaMA-Factory, or None if it is."""
    if not isinstance(messages, list):
        return "messages is not a list"
    if not messages:
        return "empty conversation"
    for message in messages:
        if not isinstance(message, dict) or "role" not in message or "content" not in message:
            return "message without role/content"
        if message["role"] not in ROLES:
            return f"unknown role {message['role']!r}"
        if not isinstance(message["content"], str):
            return "content is not text"
        if not message["content"].strip():
            return "empty content"
    turns = messages[1:] if messages[0]["role"] == "system" else messages
    if not turns:
        return "no user/assistant turns"
    for position, message in enumerate(turns):
        expected = "user" if position % 2 == 0 else "assistant"
        if message["role"] != expected:
            return f"turn {position + 1} is {message['role']!r}, expected {expected!r}"
    if turns[-1]["role"] != "assistant":
        return "ends with a user turn"
    return None


def repair_conversation(messages: list[Message]) -> list[Message]:
    """Merge consecutive turns of the same role and drop a trailing user turn.

    Only applied with --repair; a conversation that is still invalid afterwards is skipped.
    """
    merged: list[Message] = []
    for message in messages:
        if merged and merged[-1]["role"] == message["role"]:
            merged[-1] = {
                "role": message["role"],
                "content": merged[-1]["content"] + "\n\n" + message["content"],
            }
        else:
            merged.append({"role": message["role"], "content": message["content"]})
    if merged and merged[-1]["role"] == "user":
        merged.pop()
    return merged


def _clean_messages(messages: list[Any]) -> list[Message]:
    return [{"role": message["role"], "content": message["content"]} for message in messages]


def _repairable(messages: Any) -> bool:
    """Repair only fixes turn order; it cannot invent roles or text, so those must already be valid."""
    return (
        isinstance(messages, list)
        and all(isinstance(message, dict) for message in messages)
        and all(message.get("role") in ROLES and isinstance(message.get("content"), str) for message in messages)
        and all(message["content"].strip() for message in messages)
    )


def convert_row(row: Any, row_index: int, agents: Sequence[str], repair: bool, report: ConversionReport) -> list[Row]:
    """The training conversations of one M500 row; problems are recorded in `report`."""
    if not isinstance(row, dict):
        report.skip("row is not an object", f"row {row_index}")
        return []
    conversations = []
    for agent in agents:
        column = AGENT_COLUMNS[agent]
        where = f"row {row_index} {agent}"
        if column not in row or row[column] is None:
            report.skip(f"missing column {column}", where)
            continue
        messages = row[column]
        problem = conversation_problem(messages)
        if problem is not None and repair and _repairable(messages):
            messages = repair_conversation(_clean_messages(messages))
            if conversation_problem(messages) is None:
                report.repaired += 1
            problem = conversation_problem(messages)
        if problem is not None:
            report.skip(problem, where)
            continue
        conversations.append({"id": f"m500-{row_index}-{agent}", "agent": agent, "messages": _clean_messages(messages)})
        report.written_per_agent[agent] += 1
    return conversations


def convert_rows(rows: Sequence[Any], agents: Sequence[str], repair: bool) -> tuple[list[Row], ConversionReport]:
    report = ConversionReport(rows=len(rows))
    conversations: list[Row] = []
    for row_index, row in enumerate(rows):
        conversations.extend(convert_row(row, row_index, agents, repair, report))
    report.conversations_written = len(conversations)
    return conversations, report


# ---------------------------------------------------------------- token statistics


def conversation_token_length(tokenizer: Any, messages: list[Message]) -> int:
    """Tokens of the conversation rendered with the tokenizer's chat template (plain join if none)."""
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(messages, tokenize=False)
    else:
        text = "\n".join(message["content"] for message in messages)
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def length_statistics(lengths: Sequence[int], cutoff_len: int) -> dict[str, float | int]:
    if not lengths:
        return {"count": 0}
    ordered = sorted(lengths)
    return {
        "count": len(ordered),
        "min": ordered[0],
        "mean": round(statistics.fmean(ordered), 1),
        "median": statistics.median(ordered),
        "p95": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
        "max": ordered[-1],
        "cutoff_len": cutoff_len,
        "over_cutoff": sum(1 for length in ordered if length > cutoff_len),
    }


def load_tokenizer(name: str) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(name)


# ---------------------------------------------------------------- writing


def dataset_info_entry(file_name: str) -> dict[str, Any]:
    return {
        "file_name": file_name,
        "formatting": "sharegpt",
        "columns": {"messages": "messages"},
        "tags": {
            "role_tag": "role",
            "content_tag": "content",
            "user_tag": "user",
            "assistant_tag": "assistant",
            "system_tag": "system",
        },
    }


def register_dataset(dataset_dir: Path, dataset_name: str, file_name: str) -> Path:
    """Add or replace our entry in dataset_dir/dataset_info.json, keeping any other entries."""
    info_path = dataset_dir / "dataset_info.json"
    info = json.loads(info_path.read_text(encoding="utf-8")) if info_path.is_file() else {}
    info[dataset_name] = dataset_info_entry(file_name)
    info_path.write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return info_path


def write_dataset(conversations: list[Row], dataset_dir: Path, dataset_name: str) -> tuple[Path, Path]:
    dataset_dir.mkdir(parents=True, exist_ok=True)
    file_name = f"{dataset_name}.json"
    data_path = dataset_dir / file_name
    temporary = data_path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(conversations, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    temporary.replace(data_path)
    return data_path, register_dataset(dataset_dir, dataset_name, file_name)


# ---------------------------------------------------------------- command line


def parse_agents(text: str) -> list[str]:
    agents = [agent.strip() for agent in text.split(",") if agent.strip()]
    unknown = [agent for agent in agents if agent not in AGENT_COLUMNS]
    if unknown or not agents:
        raise argparse.ArgumentTypeError(f"unknown agent(s) {unknown}; valid: {', '.join(AGENT_COLUMNS)}")
    return agents


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--input", type=Path, default=None, help="Local .json/.jsonl/.parquet file in the M500 schema.")
    parser.add_argument("--hub-dataset", default=DEFAULT_HUB_DATASET, help="Hub dataset used without --input.")
    parser.add_argument("--split", default="train", help="Hub split (default train).")
    parser.add_argument("--dataset-dir", type=Path, default=DEFAULT_DATASET_DIR, help="LLaMA-Factory dataset_dir.")
    parser.add_argument("--dataset-name", default="m500", help="Name registered in dataset_info.json.")
    parser.add_argument(
        "--agents",
        "--roles",
        type=parse_agents,
        default=list(AGENT_COLUMNS),
        help=f"Comma-separated agents whose conversations are kept (default all: {','.join(AGENT_COLUMNS)}).",
    )
    parser.add_argument("--repair", action="store_true", help="Merge same-role runs and drop a trailing user turn.")
    parser.add_argument("--tokenizer", default=DEFAULT_TOKENIZER, help="Tokenizer for length statistics, or none.")
    parser.add_argument("--cutoff-len", type=int, default=32768, help="cutoff_len the lengths are compared with.")
    parser.add_argument("--report", type=Path, default=None, help="Also write the report as JSON here.")
    return parser


def summarize(report: ConversionReport, lengths: dict[str, float | int] | None) -> dict[str, Any]:
    return {
        "rows": report.rows,
        "conversations_written": report.conversations_written,
        "written_per_agent": dict(report.written_per_agent),
        "repaired": report.repaired,
        "skipped": dict(report.skipped),
        "skipped_total": sum(report.skipped.values()),
        "skipped_examples": report.skipped_examples,
        "token_lengths": lengths,
    }


def main(argv: Sequence[str] | None = None, hub_loader: HubLoader = load_from_hub) -> int:
    args = build_parser().parse_args(argv)
    try:
        rows = load_rows(args.input, args.hub_dataset, args.split, hub_loader)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    conversations, report = convert_rows(rows, args.agents, args.repair)
    if not conversations:
        print(json.dumps(summarize(report, None), indent=2), file=sys.stderr)
        print("error: no valid conversation to write", file=sys.stderr)
        return 1
    lengths = None
    if args.tokenizer.lower() != "none":
        tokenizer = load_tokenizer(args.tokenizer)
        token_lengths = [conversation_token_length(tokenizer, item["messages"]) for item in conversations]
        lengths = length_statistics(token_lengths, args.cutoff_len)
    data_path, info_path = write_dataset(conversations, args.dataset_dir, args.dataset_name)
    summary = summarize(report, lengths) | {"data_file": str(data_path), "dataset_info": str(info_path)}
    print(json.dumps(summary, indent=2))
    if report.skipped:
        print(
            f"warning: skipped {summary['skipped_total']} malformed conversation(s), see 'skipped'",
            file=sys.stderr,
        )
    if lengths and lengths["over_cutoff"]:
        print(
            f"warning: {lengths['over_cutoff']} conversation(s) exceed cutoff_len {args.cutoff_len} "
            "and will be truncated by LLaMA-Factory",
            file=sys.stderr,
        )
    if args.report is not None:
        args.report.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
