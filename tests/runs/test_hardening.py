"""One runner per run directory; bad endpoints and missing keys stop before anything is written."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentverse.testing.fake_server import BackgroundServer, ScriptedResponder
from agentverse.testing.machine import free_port
from agentverse_command.benchmark import main as benchmark_main
from tests.conftest import edited_task
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


@pytest.mark.parametrize(
    "url",
    [
        "http://",
        "http:",
        "ftp://host/v1",
        "http://host:99999/v1",
        "http://:80/v1",
        "https://user:sk-1@host/v1",
        "http://host/v1?api_key=sk-1",
    ],
)
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


def test_a_dead_endpoint_stops_the_run_within_seconds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_problems(tmp_path / "data.jsonl", 40)
    dead = f"http://127.0.0.1:{free_port()}/v1"
    started = time.perf_counter()
    code = benchmark_main(["--task", TASK, "--data", str(data), "--run-dir", str(tmp_path / "run"), *model_args(dead)])
    assert code != 0 and time.perf_counter() - started < 10
    err = capsys.readouterr().err
    assert f"no endpoint reachable: {dead}" in err and "cannot connect" in err


def test_a_model_the_server_does_not_serve_is_named_with_the_served_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_problems(tmp_path / "data.jsonl", 2)
    with BackgroundServer(ScriptedResponder(solver=[solver_reply])) as server:
        arguments = ["--task", TASK, "--data", str(data), "--run-dir", str(tmp_path / "run")]
        code = benchmark_main([*arguments, *model_args(server.base_url), "--model", "m1-32b"])
        assert not server.requests  # nothing was sent
    assert code == 2
    err = capsys.readouterr().err
    assert "model 'm1-32b' is not served" in err and "serves fake" in err


def test_a_dead_replica_is_skipped_and_the_live_one_does_the_work(tmp_path: Path) -> None:
    data = write_problems(tmp_path / "data.jsonl", 6)
    dead = f"http://127.0.0.1:{free_port()}/v1"
    run_dir = tmp_path / "run"
    with BackgroundServer(ScriptedResponder(solver=[solver_reply])) as server:
        arguments = ["--task", TASK, "--data", str(data), "--run-dir", str(run_dir)]
        assert benchmark_main([*arguments, *model_args(server.base_url), "--base-url", dead]) == 0
    assert "unreachable" in (run_dir / "run.log").read_text()
    records = [record for entries in records_by_id(run_dir).values() for record in entries]
    attempts = [attempt for record in records for call in record["result"]["calls"] for attempt in call["attempts"]]
    assert attempts and all(attempt["endpoint"] == server.base_url for attempt in attempts)


def test_an_endpoint_that_dies_mid_run_stops_it_and_keeps_the_records(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_problems(tmp_path / "data.jsonl", 30)
    run_dir = tmp_path / "run"
    port = free_port()
    backoff = {"  context_length: 8192\n": "  context_length: 8192\n  retry_backoff_s: 0.05\n"}
    task = edited_task(TASK, tmp_path, backoff)  # seconds of backoff would only add to the wait
    arguments = ["--task", task, "--data", str(data), "--run-dir", str(run_dir), "--concurrency", "2"]
    server = BackgroundServer(ScriptedResponder(solver=[solver_reply]), latency=lambda t, f: 0.05, port=port)
    served = server.__enter__()
    command = [sys.executable, "-m", "agentverse_command.benchmark", *arguments, *model_args(served.base_url)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and len(records_by_id(run_dir) if (run_dir / "records.jsonl").exists() else {}) < 3:
        time.sleep(0.05)
    server.__exit__(None, None, None)
    died = time.perf_counter()
    _, err = process.communicate(timeout=60)
    assert process.returncode == 1 and time.perf_counter() - died < 10
    assert "no endpoint reachable" in err and "not started" in err
    grouped = records_by_id(run_dir)
    assert sum(entries[-1]["status"] == "ok" for entries in grouped.values()) >= 3  # kept
    assert len(grouped) < 30


def test_a_frozen_server_times_out_in_proportion_to_the_budget(tmp_path: Path) -> None:
    import asyncio

    from agentverse.config.schema import EndpointConfig, GenerationConfig
    from agentverse.llms.base import LLMError
    from agentverse.llms.openai_backend import OpenAIBackend
    from agentverse.testing.fake_server import FakeOpenAIServer, FakeReply

    config = EndpointConfig(model="fake", timeout_floor_s=0.3, min_tokens_per_s=100.0, max_retries=0)
    assert config.request_timeout(20) == pytest.approx(0.5)  # floor + 20 tokens at 100 tokens/s
    assert config.model_copy(update={"timeout_s": 7.0}).request_timeout(20) == 7.0

    async def frozen() -> tuple[LLMError, float]:
        async with FakeOpenAIServer(lambda payload: FakeReply("late", delay_s=30)) as server:
            backend = OpenAIBackend(config.model_copy(update={"base_urls": [server.base_url]}))
            started = time.perf_counter()
            try:
                with pytest.raises(LLMError) as caught:
                    await backend.complete([{"role": "user", "content": "hi"}], GenerationConfig(max_tokens=20))
            finally:
                await backend.aclose()
            return caught.value, time.perf_counter() - started

    error, waited = asyncio.run(frozen())
    assert error.kind == "timeout" and "0.5 s" in str(error) and waited < 3


def test_the_conventional_openai_variables_are_used_when_nothing_names_an_endpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import argparse

    from agentverse.config.loader import TASKS_ROOT
    from agentverse_command.common import add_model_options, load_config_or_exit

    text = (TASKS_ROOT / "tasksolving/math500/m1-32b/config.yaml").read_text()
    kept = [line for line in text.splitlines() if not line.lstrip().startswith(("base_urls:", "api_key_env:"))]
    unnamed = tmp_path / "unnamed.yaml"
    unnamed.write_text("\n".join(kept) + "\n")
    parser = argparse.ArgumentParser()
    add_model_options(parser)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8123/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-not-printed")
    config, _ = load_config_or_exit(str(unnamed), parser.parse_args([]))
    assert config.llm.base_urls == ["http://127.0.0.1:8123/v1"] and config.llm.api_key_env == "OPENAI_API_KEY"
    err = capsys.readouterr().err
    assert "using OPENAI_BASE_URL=http://127.0.0.1:8123/v1" in err and "sk-not-printed" not in err
    shipped, _ = load_config_or_exit("tasksolving/math500/m1-32b", parser.parse_args([]))
    assert shipped.llm.base_urls == ["http://127.0.0.1:8000/v1"] and shipped.llm.api_key_env is None  # named
    flagged, _ = load_config_or_exit(str(unnamed), parser.parse_args(["--base-url", "http://10.0.0.1:8000/v1"]))
    assert flagged.llm.api_key_env is None  # the OpenAI key never goes to a server the flags chose


def test_a_thousand_problems_complete_with_flat_memory() -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_load import measure

    small, large = measure([250, 1000], concurrency=256)
    assert (large.records, large.completed, large.errors, large.returncode) == (1000, 1000, 0, 0)
    assert small.records == 250
    assert large.peak_rss_mb < 250
    assert large.peak_rss_mb < 1.35 * small.peak_rss_mb  # four times the problems, about the same memory


def test_credentials_in_openai_base_url_are_refused_without_being_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import argparse

    from agentverse.config.loader import TASKS_ROOT
    from agentverse_command.common import add_model_options, load_config_or_exit

    text = (TASKS_ROOT / "tasksolving/math500/m1-32b/config.yaml").read_text()
    kept = [line for line in text.splitlines() if not line.lstrip().startswith(("base_urls:", "api_key_env:"))]
    unnamed = tmp_path / "unnamed.yaml"
    unnamed.write_text("\n".join(kept) + "\n")
    parser = argparse.ArgumentParser()
    add_model_options(parser)
    monkeypatch.setenv("OPENAI_BASE_URL", "https://user:sk-secret-in-url@api.example.com/v1")
    with pytest.raises(SystemExit) as caught:
        load_config_or_exit(str(unnamed), parser.parse_args([]))
    assert caught.value.code == 2
    printed = capsys.readouterr()
    assert "llm.base_urls" in printed.err and "sk-secret-in-url" not in printed.err + printed.out
