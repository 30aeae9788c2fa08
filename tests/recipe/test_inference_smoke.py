"""run/inference.sh with vLLM's CPU build serving the embedded model: two HumanEval problems."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.recipe


@pytest.mark.skipif(not (ROOT / ".venvs" / "serve" / "bin" / "python").exists(), reason="no .venvs/serve")
def test_inference_serves_runs_grades_and_reports(tmp_path: Path) -> None:
    environment = {
        **os.environ,
        "MODEL": "smollm2",
        "DATASET": "humaneval",
        "LIMIT": "2",
        "SERVE": "vllm",
        "PORT": "8391",
        "RUN_ROOT": str(tmp_path),
        "LOG_FILE": str(tmp_path / "vllm.log"),
        "PID_FILE": str(tmp_path / "vllm.pid"),
    }
    finished = subprocess.run(
        ["bash", "run/inference.sh", "--no-progress", "--max-turn", "1"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    summary = json.loads((tmp_path / "humaneval" / "summary.json").read_text())
    assert summary["problems"] == 2
    records = [json.loads(line) for line in (tmp_path / "humaneval" / "records.jsonl").read_text().splitlines()]
    calls = [call for record in records if record["result"] for call in record["result"]["calls"]]
    assert calls and all(call["endpoint"].endswith(":8391/v1") for call in calls if call["status"] == "ok")
    assert any(call["completion_tokens"] > 0 for call in calls)
    assert (tmp_path / "report" / "report.md").exists()
    # The server the script started is gone.
    assert (
        not (tmp_path / "vllm.pid").exists()
        or subprocess.run(["kill", "-0", (tmp_path / "vllm.pid").read_text().strip()], capture_output=True).returncode
        != 0
    )
