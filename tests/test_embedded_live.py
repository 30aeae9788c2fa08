"""The embedded model in the command-line tools: loading is its own step, and Ctrl-C stops at once,
also halfway through the first start's conversion."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentverse.llms.embedded import STAGING_PREFIX
from tests.conftest import short_embedded_task
from tests.runs.test_live_output import Lines
from tests.runs.test_runner import ROOT, write_problems

pytestmark = pytest.mark.slow
STOPPED_WITHIN_S = 15.0  # a conversion or a batch left running would keep the process alive far longer


def start(command: list[str], cache: Path | None = None) -> subprocess.Popen[str]:
    environment = {**os.environ, **({"AGENTVERSE_CACHE": str(cache)} if cache is not None else {})}
    return subprocess.Popen(
        [sys.executable, "-m", *command], cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def interrupt(process: subprocess.Popen[str]) -> float:
    """Send Ctrl-C; return the seconds the process took to exit."""
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    process.wait(timeout=120)
    return time.monotonic() - sent


def test_loading_is_its_own_step_before_the_first_call(tmp_path: Path) -> None:
    task = short_embedded_task("tasksolving/math500/smollm2", tmp_path)
    trace = tmp_path / "trace.json"
    process = start(["agentverse_command.tasksolving", "--task", task, "--input", "What is 2 + 3?", "--output",
                     str(trace)])  # fmt: skip
    lines = Lines(process)
    lines.first("out", r"^loading model embedded:smollm2 .*\.\.\.$")
    loaded = lines.first("out", r"^model loaded in \d+\.\d s$")
    lines.first("out", r"^=== round 1 ===$")
    lines.first("out", r"^  \[CEO\] ")  # the first call comes after the loading, and its latency is its own
    assert interrupt(process) < STOPPED_WITHIN_S  # while the role assigner generates
    assert process.returncode == 130
    seen = [line for name, line in lines.seen if name == "out"]
    assert seen.index(loaded) < seen.index("=== round 1 ===")
    saved = json.loads(trace.read_text())
    assert saved["status"] == "interrupted" and saved["calls"][0]["agent_type"] == "ceo"


@pytest.mark.parametrize("command", ["tasksolving", "benchmark"])
def test_ctrl_c_during_the_first_conversion_stops_at_once(tmp_path: Path, command: str) -> None:
    cache = tmp_path / "cache"  # empty: this start converts the GGUF
    task = short_embedded_task("tasksolving/math500/smollm2", tmp_path)
    if command == "tasksolving":
        arguments = ["--input", "What is 2 + 3?", "--output", str(tmp_path / "trace.json"), "--heartbeat", "600"]
    else:
        arguments = ["--data", str(write_problems(tmp_path / "data.jsonl", 2)), "--run-dir", str(tmp_path / "run")]
    process = start([f"agentverse_command.{command}", "--task", task, *arguments], cache)
    lines = Lines(process)
    loading = lines.first(
        "out" if command == "tasksolving" else "err", r"^loading model embedded:smollm2 \(first start"
    )
    assert str(cache) in loading
    models = cache / "models"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (models.is_dir() and any(models.iterdir())):
        time.sleep(0.1)  # until the conversion has begun writing its staging folder
    time.sleep(1.0)
    assert interrupt(process) < STOPPED_WITHIN_S and process.returncode == 130
    lines.first("err", r"^interrupted \(SIGINT\)")
    errors = [line for name, line in lines.seen if name == "err" and not line.startswith(("run directory:", "loading"))]
    assert len(errors) == 1 and "Traceback" not in "".join(line for _, line in lines.seen)
    assert [path.name[: len(STAGING_PREFIX)] for path in models.iterdir()] == [STAGING_PREFIX]  # no half cache
