"""The benchmark pipeline on the real embedded SmolLM2 (CPU): run, resume, grade, report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentverse_command.benchmark import main as benchmark_main
from agentverse_command.evaluate import main as evaluate_main
from agentverse_command.report import main as report_main
from tests.conftest import short_embedded_task

pytestmark = pytest.mark.slow


def test_two_humaneval_problems_on_embedded_model(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    arguments = [
        "--task",
        short_embedded_task("tasksolving/humaneval/smollm2", tmp_path),
        "--limit",
        "2",
        "--max-turn",
        "1",
        "--run-dir",
        str(run_dir),
        "--concurrency",
        "2",
        "--no-progress",
    ]
    assert benchmark_main(arguments) == 0
    lines = (run_dir / "records.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert sorted(record["sample"]["id"] for record in records) == ["HumanEval/0", "HumanEval/1"]
    for record in records:
        # In process there is no infrastructure to fail: every problem runs to an end and is graded,
        # and a reply the small model could not put in the protocol counts as its (wrong) answer.
        assert record["status"] == "ok"
        assert record["grade"]["status"] in ("correct", "incorrect", "no_answer")
        assert all(call["completion_tokens"] > 0 for call in record["result"]["calls"])
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["problems"] == 2 and summary["metric"] == "pass@1"
    assert summary["completed"] == 2 and summary["errors"] == 0 and summary["score"] is not None

    # Resuming changes nothing that finished: solved problems are not run again.
    solved_before = {record["sample"]["id"] for record in records if record["status"] == "ok"}
    assert benchmark_main(arguments) == 0
    after = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    assert after[: len(lines)] == records
    assert not solved_before & {record["sample"]["id"] for record in after[len(lines) :]}

    assert evaluate_main([str(run_dir)]) == 0
    assert report_main([str(run_dir), "--out", str(tmp_path / "report")]) == 0
    report = (tmp_path / "report" / "report.md").read_text()
    assert "embedded:smollm2 (multi-agent)" in report and "humaneval" in report
