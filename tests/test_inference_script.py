"""run/inference.sh end to end against a fake endpoint: run dir, grades and report appear."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from agentverse.testing.fake_server import BackgroundServer, ScriptedResponder

ROOT = Path(__file__).resolve().parents[1]
CODE = "```python\ndef has_close_elements(numbers, threshold):\n    return False\n```"


def test_inference_script_with_an_endpoint(tmp_path: Path) -> None:
    responder = ScriptedResponder(solver=[CODE])
    with BackgroundServer(responder, models=("smollm2",)) as server:
        environment = {
            **os.environ,
            "BASE_URL": server.base_url,
            "MODEL": "smollm2",
            "DATASET": "humaneval",
            "LIMIT": "2",
            "RUN_ROOT": str(tmp_path),
        }
        finished = subprocess.run(
            ["bash", "run/inference.sh", "--no-progress"],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert finished.returncode == 0, finished.stderr[-2000:]
    summary = json.loads((tmp_path / "humaneval" / "summary.json").read_text())
    assert summary["problems"] == 2 and summary["metric"] == "pass@1"
    # HumanEval/0 expects True for close elements: the stub `return False` fails it.
    records = [json.loads(line) for line in (tmp_path / "humaneval" / "records.jsonl").read_text().splitlines()]
    assert {record["sample"]["id"] for record in records} == {"HumanEval/0", "HumanEval/1"}
    assert all(record["grade"]["status"] in ("incorrect", "no_answer") for record in records)
    assert responder.payloads["solver"][0]["model"] == "smollm2"
    executor_events = [
        event for record in records for event in record["result"]["events"] if event["kind"] == "executor"
    ]
    assert executor_events and executor_events[0]["detail"]["passed"] is False  # public tests ran and failed
    report = (tmp_path / "report" / "report.md").read_text()
    assert "humaneval" in report and (tmp_path / "report" / "tokens_by_agent.png").exists()
