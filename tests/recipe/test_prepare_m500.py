"""Fast tests of scripts/prepare_m500.py: conversion, validation, loading; no network, no train venv."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURE = REPO_ROOT / "tests" / "fixtures" / "m500" / "m500_tiny.jsonl"


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("prepare_m500", REPO_ROOT / "scripts" / "prepare_m500.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["prepare_m500"] = module
    spec.loader.exec_module(module)
    return module


prepare = _load_script()


def message(role: str, content: str = "text") -> dict[str, str]:
    return {"role": role, "content": content}


def fixture_rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines()]


VALID = [message("system"), message("user"), message("assistant"), message("user"), message("assistant")]

CONVERSATION_CASES = [
    ("system, user, assistant", [message("system"), message("user"), message("assistant")], None),
    ("no system turn", [message("user"), message("assistant")], None),
    ("two exchanges", VALID, None),
    ("not a list", "hello", "messages is not a list"),
    ("empty", [], "empty conversation"),
    ("system only", [message("system")], "no user/assistant turns"),
    ("ends with user", [message("user"), message("assistant"), message("user")], "ends with a user turn"),
    (
        "starts with assistant",
        [message("assistant"), message("user")],
        "turn 1 is 'assistant', expected 'user'",
    ),
    ("two users in a row", [message("user"), message("user"), message("assistant")], "turn 2 is 'user'"),
    (
        "system in the middle",
        [message("user"), message("system"), message("assistant")],
        "turn 2 is 'system'",
    ),
    ("unknown role", [message("user"), message("tool")], "unknown role 'tool'"),
    ("missing content", [{"role": "user"}], "message without role/content"),
    ("content not text", [message("user"), {"role": "assistant", "content": 3}], "content is not text"),
    ("blank content", [message("user"), message("assistant", "  ")], "empty content"),
]


@pytest.mark.parametrize(
    ("messages", "expected"),
    [(messages, expected) for _, messages, expected in CONVERSATION_CASES],
    ids=[name for name, _, _ in CONVERSATION_CASES],
)
def test_conversation_problem(messages: Any, expected: str | None) -> None:
    problem = prepare.conversation_problem(messages)
    if expected is None:
        assert problem is None
    else:
        assert problem is not None and problem.startswith(expected)


def test_fixture_converts_every_agent_conversation_in_order() -> None:
    rows = fixture_rows()
    conversations, report = prepare.convert_rows(rows, list(prepare.AGENT_COLUMNS), repair=False)
    assert 8 <= len(rows) <= 16
    assert report.conversations_written == 4 * len(rows) == len(conversations)
    assert not report.skipped
    first_solver = next(item for item in conversations if item["agent"] == "problem_solver")
    assert first_solver["messages"] == rows[0]["problem_solver_messages"]
    assert first_solver["id"] == "m500-0-problem_solver"
    assert set(first_solver) == {"id", "agent", "messages"}


def test_agents_option_selects_roles() -> None:
    conversations, report = prepare.convert_rows(fixture_rows(), ["problem_solver", "critic"], repair=False)
    assert {item["agent"] for item in conversations} == {"problem_solver", "critic"}
    assert dict(report.written_per_agent) == {"problem_solver": 12, "critic": 12}


def test_malformed_conversations_are_counted_and_skipped() -> None:
    good = fixture_rows()[0]
    missing_column = {key: value for key, value in good.items() if key != "critic_messages"}
    bad_order = dict(good, evaluator_messages=[message("user"), message("user"), message("assistant")])
    rows = [good, missing_column, bad_order, "not a row"]
    conversations, report = prepare.convert_rows(rows, list(prepare.AGENT_COLUMNS), repair=False)
    assert report.rows == 4
    assert report.conversations_written == len(conversations) == 4 + 3 + 3
    assert report.skipped == {
        "missing column critic_messages": 1,
        "turn 2 is 'user', expected 'assistant'": 1,
        "row is not an object": 1,
    }
    assert any(example.startswith("row 2 evaluator") for example in report.skipped_examples)


def test_repair_merges_same_role_runs_and_drops_trailing_user() -> None:
    row = {
        "problem_solver_messages": [
            message("system"),
            message("user", "part one"),
            message("user", "part two"),
            message("assistant", "answer"),
            message("user", "dangling"),
        ]
    }
    conversations, report = prepare.convert_rows([row], ["problem_solver"], repair=True)
    assert report.repaired == 1 and not report.skipped
    assert [turn["role"] for turn in conversations[0]["messages"]] == ["system", "user", "assistant"]
    assert conversations[0]["messages"][1]["content"] == "part one\n\npart two"


def test_repair_does_not_invent_roles() -> None:
    row = {"critic_messages": [message("assistant"), message("user")]}
    _, report = prepare.convert_rows([row], ["critic"], repair=True)
    assert report.repaired == 0 and sum(report.skipped.values()) == 1


@pytest.mark.parametrize("suffix", [".json", ".jsonl", ".parquet"])
def test_read_local_rows_formats(tmp_path: Path, suffix: str) -> None:
    rows = fixture_rows()[:3]
    path = tmp_path / f"m500{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(rows), encoding="utf-8")
    elif suffix == ".jsonl":
        path.write_text("\n".join(json.dumps(row) for row in rows) + "\n\n", encoding="utf-8")
    else:
        import pyarrow
        import pyarrow.parquet

        pyarrow.parquet.write_table(pyarrow.Table.from_pylist(rows), path)
    assert prepare.read_local_rows(path) == rows


@pytest.mark.parametrize(
    ("file_name", "content", "expected"),
    [
        ("rows.json", '{"question": "x"}', "expected a JSON list"),
        ("rows.json", "[{", "not valid JSON"),
        ("rows.jsonl", '{"a": 1}\n{oops', "rows.jsonl:2: not valid JSON"),
        ("rows.csv", "a,b", "unsupported extension"),
    ],
)
def test_read_local_rows_rejects_bad_files(tmp_path: Path, file_name: str, content: str, expected: str) -> None:
    path = tmp_path / file_name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(prepare.InputError, match=expected):
        prepare.read_local_rows(path)


def test_hub_loading_uses_the_injected_loader(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import datasets

    requested: list[tuple[str, str]] = []

    def fake_hub(name: str, split: str) -> datasets.Dataset:
        requested.append((name, split))
        return datasets.Dataset.from_list(fixture_rows()[:5])

    exit_code = prepare.main(["--dataset-dir", str(tmp_path), "--tokenizer", "none"], hub_loader=fake_hub)
    assert exit_code == 0
    assert requested == [("Can111/m500", "train")]
    summary = json.loads(capsys.readouterr().out)
    assert summary["rows"] == 5 and summary["conversations_written"] == 20
    written = json.loads((tmp_path / "m500.json").read_text(encoding="utf-8"))
    assert written[0]["messages"] == fixture_rows()[0]["expert_recruiter_messages"]


def test_main_registers_dataset_and_keeps_other_entries(tmp_path: Path) -> None:
    (tmp_path / "dataset_info.json").write_text(json.dumps({"other": {"file_name": "o.json"}}), encoding="utf-8")
    exit_code = prepare.main(["--input", str(FIXTURE), "--dataset-dir", str(tmp_path), "--tokenizer", "none"])
    assert exit_code == 0
    info = json.loads((tmp_path / "dataset_info.json").read_text(encoding="utf-8"))
    assert info["other"] == {"file_name": "o.json"}
    assert info["m500"] == {
        "file_name": "m500.json",
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


def test_committed_dataset_info_matches_the_script() -> None:
    info = json.loads((REPO_ROOT / "LLaMA-Factory" / "data" / "dataset_info.json").read_text(encoding="utf-8"))
    assert info["m500"] == prepare.dataset_info_entry("m500.json")


def test_main_reports_skips_and_fails_when_nothing_is_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"critic_messages": [message("assistant")]}) + "\n", encoding="utf-8")
    arguments = ["--input", str(path), "--dataset-dir", str(tmp_path / "out"), "--tokenizer", "none"]
    assert prepare.main([*arguments, "--agents", "critic"]) == 1
    assert "no valid conversation" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_unknown_agent_is_rejected_with_valid_names() -> None:
    with pytest.raises(SystemExit):
        prepare.build_parser().parse_args(["--agents", "ceo"])
    with pytest.raises(Exception, match="valid: expert_recruiter"):
        prepare.parse_agents("ceo")


class FakeTokenizer:
    """Counts whitespace-separated words; renders a chat template like ChatML."""

    chat_template = "chatml"

    def apply_chat_template(self, messages: list[dict[str, str]], tokenize: bool) -> str:
        assert tokenize is False
        return " ".join(f"<|im_start|>{turn['role']} {turn['content']} <|im_end|>" for turn in messages)

    def __call__(self, text: str, add_special_tokens: bool) -> dict[str, list[int]]:
        return {"input_ids": list(range(len(text.split())))}


def test_token_lengths_against_cutoff() -> None:
    tokenizer = FakeTokenizer()
    short = [message("user", "one two"), message("assistant", "three")]
    assert prepare.conversation_token_length(tokenizer, short) == 7
    statistics = prepare.length_statistics([7, 30, 12, 100], cutoff_len=20)
    assert statistics["count"] == 4
    assert statistics["min"] == 7 and statistics["max"] == 100
    assert statistics["over_cutoff"] == 2
    assert prepare.length_statistics([], cutoff_len=20) == {"count": 0}
