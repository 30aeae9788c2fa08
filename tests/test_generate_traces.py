"""generate_traces.py against the fake server: only correct traces are kept, in M500 and sharegpt form."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

from agentverse.testing.fake_server import BackgroundServer, ScriptedResponder
from tests.runs.test_runner import RIGHT, model_args, solver_reply, write_problems

ROOT = Path(__file__).resolve().parents[1]


def load_script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def alternates(messages: list[dict[str, str]]) -> bool:
    turns = messages[1:] if messages and messages[0]["role"] == "system" else messages
    expected = ["user", "assistant"] * (len(turns) // 2)
    return len(turns) % 2 == 0 and [turn["role"] for turn in turns] == expected


def test_only_correct_traces_are_kept(tmp_path: Path) -> None:
    generate = load_script("generate_traces")
    data = write_problems(tmp_path / "problems.jsonl", 6)  # even ids answered right, odd wrong
    out = tmp_path / "traces.jsonl"
    responder = ScriptedResponder(
        solver=[solver_reply], critic=["Checked. [Agree]"], evaluator=["thinking</think>" + RIGHT]
    )
    with BackgroundServer(responder) as server:
        code = generate.main(
            [
                "--task",
                "tasksolving/math500/smollm2",
                "--data",
                str(data),
                "--run-dir",
                str(tmp_path / "run"),
                "--out",
                str(out),
                "--dataset-name",
                "test_traces",
                "--dataset-dir",
                str(tmp_path / "lf"),
                *model_args(server.base_url),
            ]
        )
    assert code == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(row["id"] for row in rows) == ["q0", "q2", "q4"]
    for row in rows:
        assert row["solution"] == f"The answer is \\boxed{{{row['id'][1:]}}}."
        for column in ("expert_recruiter_messages", "problem_solver_messages", "critic_messages", "evaluator_messages"):
            messages = row[column]
            assert messages[-1]["role"] == "assistant" and alternates(messages), column
        evaluator_reply = row["evaluator_messages"][-1]["content"]
        assert evaluator_reply.startswith("<think>\nthinking\n</think>")  # reasoning kept for training
    info = json.loads((tmp_path / "lf" / "dataset_info.json").read_text())
    entry = info["test_traces"]
    assert entry["formatting"] == "sharegpt" and entry["columns"] == {"messages": "messages"}
    conversations = json.loads((tmp_path / "lf" / entry["file_name"]).read_text())
    assert len(conversations) == 3 * 4
    assert all(alternates(item["messages"]) for item in conversations)
