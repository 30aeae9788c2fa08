"""Keeping GPU servers full: the shipped defaults, `--max-concurrency auto`, and an endpoints file that
adds and removes replicas while a run goes on (real HTTP fake servers on 127.0.0.1)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from agentverse.llms import openai_backend
from agentverse.llms.gate import AutoCap, next_cap, parse_vllm_queue
from agentverse.testing.fake_server import BackgroundServer, ScriptedResponder
from agentverse_command.benchmark import main as benchmark_main
from tests.runs.test_runner import solver_reply, write_problems

SHIPPED = "tasksolving/math500/m1-32b"  # the paper's config, as users run it against vLLM
TWO_CRITICS = "### Decision: <Continue>\n### Recruit Number: 3\n### Direction: Check.\n### Maximum Tokens: 4096"
RIGHT = "### Correctness: 1\n### Advice: Fine.\n### Recruiting Suggestion: None."


def responder() -> ScriptedResponder:
    return ScriptedResponder(ceo=[TWO_CRITICS], solver=[solver_reply], evaluator=[RIGHT])


def run(tmp_path: Path, problems: int, *endpoint: str, extra: tuple[str, ...] = ()) -> tuple[int, dict[str, Any]]:
    data = write_problems(tmp_path / "data.jsonl", problems)
    run_dir = tmp_path / "run"
    arguments = ["--task", SHIPPED, "--data", str(data), "--run-dir", str(run_dir), "--no-progress"]
    code = benchmark_main([*arguments, *endpoint, "--model", "fake", "--no-thinking", *extra])
    summary = json.loads((run_dir / "summary.json").read_text()) if (run_dir / "summary.json").exists() else {}
    return code, summary


def test_the_shipped_defaults_keep_more_than_200_requests_in_flight(tmp_path: Path) -> None:
    # With the cap of 64 the config used to ship, at most 64 requests were ever in flight.
    with BackgroundServer(responder(), latency=lambda tokens, in_flight: 0.3) as server:
        code, summary = run(tmp_path, 128, "--base-url", server.base_url)
    assert code == 0 and summary["completed"] == 128
    assert server.max_in_flight > 200
    (load,) = summary["load"]
    assert load["peak_in_flight"] >= server.max_in_flight and load["cap"] == 256  # ours counts transit too
    assert load["mean_in_flight"] > 50 and load["requests"] == len(server.requests)


def test_auto_follows_the_servers_queue_down_to_its_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(openai_backend, "AUTO_INTERVAL_S", 0.05)
    with BackgroundServer(responder(), latency=lambda tokens, in_flight: 0.05, batch_limit=40) as server:
        code, summary = run(tmp_path, 128, "--base-url", server.base_url, extra=("--max-concurrency", "auto"))
    assert code == 0 and summary["completed"] == 128
    (load,) = summary["load"]
    # It starts at 256, sees the queue behind vLLM's batch of 40 and comes down to about the batch.
    assert 0.7 * 40 <= load["cap"] <= 1.3 * 40, load
    assert 0.75 * 40 <= load["mean_in_flight"] <= 1.5 * 40, load  # the server's batch, kept about full
    assert load["peak_in_flight"] > 40  # before it had read the first queue


def test_auto_keeps_the_default_cap_without_metrics(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(openai_backend, "AUTO_INTERVAL_S", 0.05)
    with BackgroundServer(responder(), latency=lambda tokens, in_flight: 0.1) as server:
        code, summary = run(tmp_path, 16, "--base-url", server.base_url, extra=("--max-concurrency", "auto"))
    assert code == 0 and summary["load"][0]["cap"] == 256
    assert "publishes no vLLM /metrics" in (tmp_path / "run" / "run.log").read_text()


def test_next_cap_rule() -> None:
    assert next_cap(256, running=40, waiting=216, saturated=True, ceiling=None) == (42, 40)  # down to the batch
    assert next_cap(42, running=40, waiting=1, saturated=True, ceiling=40) == (42, 40)  # a little queue is fine
    assert next_cap(42, running=40, waiting=0, saturated=True, ceiling=40) == (42, 40)  # not past the ceiling
    assert next_cap(64, running=64, waiting=0, saturated=True, ceiling=None) == (80, None)  # room: up
    assert next_cap(42, running=10, waiting=0, saturated=False, ceiling=40) == (42, 40)  # nothing waited: stay
    assert next_cap(42, running=90, waiting=0, saturated=True, ceiling=40) == (52, 90)  # the server grew: up again


def test_auto_comes_down_only_when_the_queue_persists() -> None:
    rule = AutoCap()
    assert rule.next(256, running=40, waiting=216, saturated=True) == 256  # one reading is not enough
    assert rule.next(256, running=38, waiting=200, saturated=True) == 42  # the most it ran, 40, + 2
    assert rule.next(42, running=20, waiting=0, saturated=False) == 42  # a dip while requests finish: no change


def test_vllm_metrics_are_summed_over_engines() -> None:
    page = (
        "# HELP vllm:num_requests_running Number of requests\n"
        'vllm:num_requests_running{engine="0",model_name="m"} 12.0\n'
        'vllm:num_requests_running{engine="1",model_name="m"} 3.0\n'
        'vllm:num_requests_waiting{engine="0",model_name="m"} 4.0\n'
        'vllm:num_requests_waiting{engine="1",model_name="m"} 0.0\n'
    )
    assert parse_vllm_queue(page) == (15.0, 4.0)
    assert parse_vllm_queue("process_cpu_seconds_total 1.0\n") is None


def test_the_endpoints_file_adds_and_removes_replicas_mid_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(openai_backend, "ENDPOINTS_REREAD_S", 0.05)
    endpoints = tmp_path / "endpoints.txt"
    slow = {"latency": lambda tokens, in_flight: 0.1}
    with BackgroundServer(responder(), **slow) as first, BackgroundServer(responder(), **slow) as second:
        endpoints.write_text(f"# replicas\n{first.base_url}\n")
        changes: dict[str, float] = {}

        def wait_for(server: Any, count: int) -> None:
            deadline = time.time() + 60
            while len(server.requests) < count and time.time() < deadline:
                time.sleep(0.01)

        def edit_the_file() -> None:
            wait_for(first, 40)
            changes["added"] = time.perf_counter()
            replace(endpoints, f"{first.base_url}\n{second.base_url}\n")
            wait_for(second, 40)
            changes["removed"] = time.perf_counter()
            replace(endpoints, f"{second.base_url}\n")

        editor = threading.Thread(target=edit_the_file, daemon=True)
        editor.start()
        code, summary = run(tmp_path, 64, "--endpoints-file", str(endpoints), extra=("--concurrency", "16"))
        editor.join(timeout=60)
    assert code == 0 and summary["completed"] == 64
    assert second.requests and min(request.started for request in second.requests) > changes["added"]
    # After the removal (and the next reread) the first replica gets no new request.
    late = [request for request in first.requests if request.started > changes["removed"] + 0.5]
    assert not late and len(second.requests) > 40
    log = (tmp_path / "run" / "run.log").read_text()
    assert f"{second.base_url} joins the run" in log and f"{first.base_url} left it" in log


def replace(path: Path, text: str) -> None:
    """Write the file as launchers should: whole, then renamed into place."""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text)
    temporary.replace(path)


def test_a_bad_endpoints_file_is_one_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    endpoints = tmp_path / "endpoints.txt"
    endpoints.write_text("http://127.0.0.1:8000/v1\nftp://nowhere\n")
    code, _ = run(tmp_path, 2, "--endpoints-file", str(endpoints))
    assert code == 2
    err = capsys.readouterr().err
    assert "line 2" in err and "Traceback" not in err
    assert not (tmp_path / "run" / "records.jsonl").exists()


def test_a_replica_that_joins_serving_another_model_gets_no_requests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(openai_backend, "ENDPOINTS_REREAD_S", 0.05)
    monkeypatch.setattr(openai_backend, "ADMIT_RETRY_S", 0.05)
    endpoints = tmp_path / "endpoints.txt"
    slow = {"latency": lambda tokens, in_flight: 0.05}
    with BackgroundServer(responder(), **slow) as good, BackgroundServer(responder(), models=("other",), **slow) as odd:
        endpoints.write_text(f"{good.base_url}\n")

        def add_the_odd_one() -> None:
            deadline = time.time() + 60
            while len(good.requests) < 10 and time.time() < deadline:
                time.sleep(0.01)
            replace(endpoints, f"{good.base_url}\n{odd.base_url}\n")

        threading.Thread(target=add_the_odd_one, daemon=True).start()
        code, summary = run(tmp_path, 32, "--endpoints-file", str(endpoints), extra=("--concurrency", "8"))
    assert code == 0 and summary["completed"] == 32 and summary["errors"] == 0
    assert odd.requests == []  # asked for its models only (GET), never a completion
    assert "serves other, not 'fake'" in (tmp_path / "run" / "run.log").read_text()
