"""Ctrl-C, SIGTERM and failed writes: work stops cleanly, what finished is kept, one line is printed."""

from __future__ import annotations

import errno
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from agentverse.runs.store import RunDirectory, RunRecord
from agentverse.testing.fake_server import BackgroundServer, FakeReply, ScriptedResponder
from agentverse_command.benchmark import main as benchmark_main
from agentverse_command.tasksolving import main as tasksolving_main
from tests.runs.test_runner import ROOT, TASK, model_args, records_by_id, solver_reply, write_problems

SLOW = 0.15  # seconds per reply: a problem takes about a second


def wait_for_records(run_dir: Path, count: int) -> None:
    records = run_dir / "records.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline and (not records.exists() or len(records.read_text().splitlines()) < count):
        time.sleep(0.05)


@pytest.mark.parametrize(("signal_number", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_the_run_with_one_line_and_the_records_kept(
    tmp_path: Path, signal_number: int, code: int
) -> None:
    data = write_problems(tmp_path / "data.jsonl", 10)
    run_dir = tmp_path / "run"
    responder = ScriptedResponder(solver=[solver_reply])
    arguments = ["--task", TASK, "--data", str(data), "--run-dir", str(run_dir), "--concurrency", "2"]
    with BackgroundServer(responder, latency=lambda tokens, in_flight: SLOW) as server:
        command = [sys.executable, "-m", "agentverse_command.benchmark", *arguments, *model_args(server.base_url)]
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for_records(run_dir, 2)
        process.send_signal(signal_number)
        out, err = process.communicate(timeout=30)
        assert process.returncode == code
        assert "Traceback" not in err + out
        *before, last = err.strip().splitlines()
        assert before == [f"run directory: {run_dir}"]  # the interruption adds exactly one line
        assert last.startswith(f"interrupted ({signal.Signals(signal_number).name})") and str(run_dir) in last
        kept = records_by_id(run_dir)  # every line is a whole record
        assert 2 <= len(kept) < 10
        resume = [*command, "--concurrency", "10"]  # the last --concurrency wins
        resumed = subprocess.run(resume, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert len(records_by_id(run_dir)) == 10


def test_a_failed_write_stops_the_run_and_says_what_was_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_problems(tmp_path / "data.jsonl", 12)
    run_dir = tmp_path / "run"
    real_append = RunDirectory.append_many
    batches: list[int] = []

    def append_then_fill_the_disk(self: RunDirectory, records: list[RunRecord]) -> None:
        batches.append(len(records))
        if len(batches) > 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_append(self, records)

    monkeypatch.setattr(RunDirectory, "append_many", append_then_fill_the_disk)

    def solver(payload: dict[str, Any]) -> FakeReply:
        return FakeReply(solver_reply(payload).text, delay_s=0.05)

    with BackgroundServer(ScriptedResponder(solver=[solver])) as server:
        arguments = ["--task", TASK, "--data", str(data), "--run-dir", str(run_dir), "--concurrency", "2"]
        code = benchmark_main([*arguments, *model_args(server.base_url)])
    assert code == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err and "could not be written" in err and "Traceback" not in err
    written = records_by_id(run_dir)
    assert sum(batches[:2]) == len(written) < 12  # the first two batches are on disk, whole
    assert "not started" in err


@pytest.mark.parametrize("layout", ["parent_is_a_file", "read_only"])
def test_a_run_directory_that_cannot_be_written_is_one_clear_error(
    tmp_path: Path, layout: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = write_problems(tmp_path / "data.jsonl", 2)
    if layout == "parent_is_a_file":
        (tmp_path / "file").write_text("not a directory")
        run_dir = tmp_path / "file" / "run"
    else:
        run_dir = tmp_path / "run"

        def refuse(self: RunDirectory, *args: Any, **kwargs: Any) -> None:
            raise PermissionError(errno.EROFS, "Read-only file system", str(self.path))

        monkeypatch.setattr(RunDirectory, "prepare", refuse)
    code = benchmark_main(
        ["--task", TASK, "--data", str(data), "--run-dir", str(run_dir), *model_args("http://127.0.0.1:9/v1")]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "cannot write the run directory" in err and str(run_dir) in err


def test_ctrl_c_in_tasksolving_saves_the_trace_so_far(tmp_path: Path) -> None:
    trace = tmp_path / "trace.json"
    responder = ScriptedResponder(solver=[FakeReply("\\boxed{1}", delay_s=30)])
    with BackgroundServer(responder) as server:
        command = [
            sys.executable, "-m", "agentverse_command.tasksolving", "--task", TASK, "--input", "What is 1?",
            "--output", str(trace), "--base-url", server.base_url, "--model", "fake", "--no-thinking",
        ]  # fmt: skip
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 60
        while time.time() < deadline and not responder.count("solver"):
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 130 and "Traceback" not in err + out
    assert len(err.strip().splitlines()) == 1 and err.startswith("interrupted (SIGINT)")
    saved = json.loads(trace.read_text())
    assert saved["status"] == "interrupted"
    assert [call["agent_type"] for call in saved["calls"]] == ["ceo", "role_assigner"]  # the solver never answered


def test_ctrl_c_before_the_run_starts_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ctrl-C while the data loads (before the event loop and its signal handlers exist) raises
    KeyboardInterrupt in plain code: one line and 130, not a traceback."""
    data = write_problems(tmp_path / "data.jsonl", 2)

    def interrupted(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("agentverse_command.benchmark.load_samples", interrupted)
    code = benchmark_main(["--task", TASK, "--data", str(data), "--run-dir", str(tmp_path / "run"),
                           *model_args("http://127.0.0.1:9/v1")])  # fmt: skip
    assert code == 130 and capsys.readouterr().err == "interrupted (SIGINT)\n"
    assert not (tmp_path / "run").exists()
    monkeypatch.setattr("agentverse_command.tasksolving.load_config_or_exit", interrupted)
    assert tasksolving_main(["--task", TASK, "--input", "What is 1?"]) == 130
    assert capsys.readouterr().err == "interrupted (SIGINT)\n"
