"""One runner per run directory; bad endpoints and missing keys stop before anything is written."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentverse.testing.fake_server import BackgroundServer, ScriptedResponder
from agentverse_command.benchmark import main as benchmark_main
from tests.runs.test_runner import ROOT, TASK, model_args, records_by_id, solver_reply, write_problems


def test_a_second_runner_on_the_same_directory_stops_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_problems(tmp_path / "data.jsonl", 6)
    run_dir = tmp_path / "run"
    responder = ScriptedResponder(solver=[solver_reply])
    arguments = ["--task", TASK, "--data", str(data), "--run-dir", str(run_dir), "--concurrency", "1"]
    with BackgroundServer(responder, latency=lambda tokens, in_flight: 0.1) as server:
        command = [sys.executable, "-m", "agentverse_command.benchmark", *arguments, *model_args(server.base_url)]
        first = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline and not (run_dir / "records.jsonl").exists():
            time.sleep(0.05)
        started = time.perf_counter()
        code = benchmark_main([*arguments, *model_args(server.base_url)])
        waited = time.perf_counter() - started
        assert first.wait(timeout=120) == 0
    assert code == 2 and waited < 5
    err = capsys.readouterr().err
    assert str(run_dir) in err and f"PID {first.pid}" in err
    grouped = records_by_id(run_dir)
    assert len(grouped) == 6 and all(len(records) == 1 for records in grouped.values())  # nothing ran twice


@pytest.mark.parametrize("url", ["http://", "http:", "ftp://host/v1", "http://host:99999/v1", "http://:80/v1"])
def test_malformed_base_urls_are_config_errors(tmp_path: Path, url: str, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_problems(tmp_path / "data.jsonl", 1)
    run_dir = tmp_path / "run"
    with pytest.raises(SystemExit) as caught:
        benchmark_main(["--task", TASK, "--data", str(data), "--run-dir", str(run_dir), *model_args(url)])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("config error:") and "llm.base_urls" in err and "Traceback" not in err
    assert not run_dir.exists()


def test_a_missing_api_key_stops_before_the_run_directory_is_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MAS_TTS_UNSET_KEY", raising=False)
    data = write_problems(tmp_path / "data.jsonl", 1)
    run_dir = tmp_path / "run"
    arguments = ["--task", TASK, "--data", str(data), "--run-dir", str(run_dir)]
    code = benchmark_main([*arguments, *model_args("http://127.0.0.1:9/v1"), "--api-key-env", "MAS_TTS_UNSET_KEY"])
    assert code == 2 and "MAS_TTS_UNSET_KEY" in capsys.readouterr().err
    assert not run_dir.exists()
