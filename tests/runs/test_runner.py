"""The benchmark runner against fake servers: concurrency, resume after kill -9, failures, grading."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from agentverse.runs.store import RunDirectory
from agentverse.testing.fake_server import BackgroundServer, FakeReply, ScriptedResponder
from agentverse_command.benchmark import main as benchmark_main
from agentverse_command.evaluate import main as evaluate_main
from agentverse_command.report import main as report_main
from tests.conftest import edited_task, fake_config

TASK = "tasksolving/math500/smollm2"
ROOT = Path(__file__).resolve().parents[2]
RIGHT = "### Correctness: 1\n### Advice: Fine.\n### Recruiting Suggestion: None."


def write_problems(path: Path, count: int) -> Path:
    """Problems whose answer is their index; the fake solver answers `\\boxed{index}` (odd ones wrong)."""
    lines = [
        json.dumps(
            {
                "id": f"q{index}",
                "input": f"Problem number {index}: what is {index}?",
                "target": str(index),
                "metadata": {},
            }
        )
        for index in range(count)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def problem_index(payload: dict[str, Any]) -> int:
    match = re.search(r"Problem number (\d+)", json.dumps(payload))
    assert match
    return int(match.group(1))


def solver_reply(payload: dict[str, Any]) -> FakeReply:
    index = problem_index(payload)
    answer = index if index % 2 == 0 else index + 100
    return FakeReply(f"The answer is \\boxed{{{answer}}}.")


def model_args(base_url: str, *extra: str) -> list[str]:
    return [
        "--base-url",
        base_url,
        "--model",
        "fake",
        "--no-thinking",
        "--max-concurrency",
        "64",
        "--no-progress",
        *extra,
    ]


def records_by_id(run_dir: Path) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for line in (run_dir / "records.jsonl").read_text().splitlines():
        record = json.loads(line)
        grouped.setdefault(record["sample"]["id"], []).append(record)
    return grouped


def test_run_grade_and_summary(tmp_path: Path) -> None:
    data = write_problems(tmp_path / "data.jsonl", 6)
    responder = ScriptedResponder(solver=[solver_reply], evaluator=[RIGHT])
    run_dir = tmp_path / "run"
    with BackgroundServer(responder) as server:
        code = benchmark_main(
            ["--task", TASK, "--data", str(data), "--run-dir", str(run_dir), *model_args(server.base_url)]
        )
    assert code == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["problems"] == 6 and summary["completed"] == 6 and summary["errors"] == 0
    assert summary["score"] == pytest.approx(50.0)  # even indices right, odd wrong
    assert summary["grades"] == {"correct": 3, "incorrect": 3}
    assert summary["evaluator_self_accuracy"] == pytest.approx(100.0)  # the evaluator is over-confident
    assert summary["terminations"] == {"evaluator_correct": 6}
    assert summary["tokens_by_agent"]["solver"]["calls"] == 6
    assert (run_dir / "config.yaml").read_text().count("model: fake") == 1


def test_problems_overlap_in_time(tmp_path: Path) -> None:
    data = write_problems(tmp_path / "data.jsonl", 8)
    responder = ScriptedResponder(solver=[solver_reply], evaluator=[RIGHT])
    with BackgroundServer(responder, latency=lambda tokens, in_flight: 0.2) as server:
        started = time.perf_counter()
        benchmark_main(
            [
                "--task",
                TASK,
                "--data",
                str(data),
                "--run-dir",
                str(tmp_path / "run"),
                "--concurrency",
                "8",
                *model_args(server.base_url),
            ]
        )
        elapsed = time.perf_counter() - started
    calls_per_problem = 5  # ceo, role assigner, solver, one critic, evaluator
    assert server.max_in_flight >= 6
    assert elapsed < 8 * calls_per_problem * 0.2 / 3  # far below the sequential time


def test_error_problems_are_recorded_apart_and_retried_on_resume(tmp_path: Path) -> None:
    data = write_problems(tmp_path / "data.jsonl", 4)
    broken = {"on": True}

    def flaky_solver(payload: dict[str, Any]) -> FakeReply:
        if broken["on"] and problem_index(payload) == 1:
            return FakeReply(status=503)
        return solver_reply(payload)

    responder = ScriptedResponder(solver=[flaky_solver], evaluator=[RIGHT])
    run_dir = tmp_path / "run"
    arguments = ["--task", TASK, "--data", str(data), "--run-dir", str(run_dir)]
    with BackgroundServer(responder) as server:
        assert benchmark_main([*arguments, *model_args(server.base_url)]) == 1  # --max-errors 0: any error
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["errors"] == 1 and summary["completed"] == 3
        assert summary["error_problems"][0]["id"] == "q1"
        assert summary["score"] == pytest.approx(100 * 2 / 3)  # q0, q2 right; q3 wrong; q1 not counted
        solver_requests_before = responder.count("solver")
        broken["on"] = False
        assert benchmark_main([*arguments, *model_args(server.base_url)]) == 0
    assert responder.count("solver") == solver_requests_before + 1  # only q1 ran again
    grouped = records_by_id(run_dir)
    assert [record["status"] for record in grouped["q1"]] == ["error", "ok"]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["errors"] == 0 and summary["problems"] == 4


def test_dropped_connections_are_retried_and_a_persistent_one_fails_only_its_problem(tmp_path: Path) -> None:
    data = write_problems(tmp_path / "data.jsonl", 5)
    backoff = {"  context_length: 8192\n": "  context_length: 8192\n  retry_backoff_s: 0.01\n"}
    config = edited_task(TASK, tmp_path, backoff)  # the shipped config with a short retry backoff
    attempts: dict[int, int] = {}

    def dropping_solver(payload: dict[str, Any]) -> FakeReply:
        index = problem_index(payload)
        attempts[index] = attempts.get(index, 0) + 1
        if index == 3 or attempts[index] == 1:  # every first try drops; problem 3 always does
            return FakeReply(drop_connection=True)
        return solver_reply(payload)

    responder = ScriptedResponder(solver=[dropping_solver], evaluator=[RIGHT])
    run_dir = tmp_path / "run"
    with BackgroundServer(responder) as server:
        arguments = ["--task", config, "--data", str(data), "--run-dir", str(run_dir)]
        assert benchmark_main([*arguments, *model_args(server.base_url), "--max-errors", "1"]) == 0
    assert attempts == {0: 2, 1: 2, 2: 2, 3: 5, 4: 2}  # one retry each; problem 3 used all 4 retries
    grouped = records_by_id(run_dir)
    assert {key: [record["status"] for record in records] for key, records in grouped.items()} == {
        "q0": ["ok"],
        "q1": ["ok"],
        "q2": ["ok"],
        "q3": ["error"],
        "q4": ["ok"],
    }
    failed = grouped["q3"][0]
    assert failed["grade"] is None and "Solver (round 1)" in failed["error"]  # an error, not a wrong answer
    assert failed["result"]["final_answer"] is None
    solver_calls = [call for call in failed["result"]["calls"] if call["agent_type"] == "solver"]
    assert [call["status"] for call in solver_calls] == ["llm_error"]
    assert "connection" in solver_calls[0]["error"]  # the trace says why
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["errors"] == 1 and summary["completed"] == 4
    assert summary["score"] == pytest.approx(100 * 3 / 4)  # q0, q2, q4 right; q1 wrong; q3 not counted


def test_kill_9_then_resume_gives_one_record_per_problem(tmp_path: Path) -> None:
    count = 12
    data = write_problems(tmp_path / "data.jsonl", count)
    responder = ScriptedResponder(solver=[solver_reply], evaluator=[RIGHT])
    run_dir = tmp_path / "run"
    with BackgroundServer(responder, latency=lambda tokens, in_flight: 0.15) as server:
        command = [
            sys.executable,
            "-m",
            "agentverse_command.benchmark",
            "--task",
            TASK,
            "--data",
            str(data),
            "--run-dir",
            str(run_dir),
            "--concurrency",
            "2",
            *model_args(server.base_url),
        ]
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        records = run_dir / "records.jsonl"
        deadline = time.time() + 60
        while time.time() < deadline and (not records.exists() or len(records.read_text().splitlines()) < 3):
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        done_before = set(records_by_id(run_dir))
        assert 3 <= len(done_before) < count
        with records.open("a") as handle:
            handle.write('{"sample": {"id": "q0", "inp')  # a half-written line, as a crash can leave
        requests_before = responder.count("solver")
        finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    grouped = records_by_id(run_dir)
    assert sorted(grouped) == sorted(f"q{index}" for index in range(count))
    assert all(len(entries) == 1 for entries in grouped.values())
    assert responder.count("solver") - requests_before == count - len(done_before)
    assert "cut a partial last record" in (run_dir / "run.log").read_text()


def test_regrading_never_calls_a_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_problems(tmp_path / "data.jsonl", 4)
    run_dir = tmp_path / "run"
    with BackgroundServer(ScriptedResponder(solver=[solver_reply], evaluator=[RIGHT])) as server:
        benchmark_main(["--task", TASK, "--data", str(data), "--run-dir", str(run_dir), *model_args(server.base_url)])
    first = json.loads((run_dir / "summary.json").read_text())
    (run_dir / "summary.json").unlink()
    assert evaluate_main([str(run_dir)]) == 0  # the server is gone: grading must not need it
    again = json.loads((run_dir / "summary.json").read_text())
    assert again["score"] == first["score"] == pytest.approx(50.0)
    assert "accuracy: 50.0%" in capsys.readouterr().out


def test_multiple_runs_are_averaged_and_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_problems(tmp_path / "data.jsonl", 4)
    base = tmp_path / "runs"
    with BackgroundServer(ScriptedResponder(solver=[solver_reply], evaluator=[RIGHT])) as server:
        assert (
            benchmark_main(
                [
                    "--task",
                    TASK,
                    "--data",
                    str(data),
                    "--run-dir",
                    str(base),
                    "--runs",
                    "2",
                    *model_args(server.base_url),
                ]
            )
            == 0
        )
    assert (base / "run-1" / "summary.json").exists() and (base / "run-2" / "summary.json").exists()
    capsys.readouterr()
    assert evaluate_main([str(base)]) == 0
    printed = capsys.readouterr().out
    assert "accuracy of each run: 50.0%, 50.0%" in printed and "{" not in printed  # a table, no raw JSON
    # Problems 0 and 2 right, 1 and 3 wrong, in both runs: the standard error over problems is
    # stdev(1, 0, 1, 0) / sqrt(4) = 28.9 points, and each run prints its own.
    assert "average over 2 runs: 50.0% ± 28.9" in printed and "pass@1: 50.0% ± 28.9" not in printed
    assert "accuracy: 50.0% ± 28.9 over 4 completed problems" in printed
    assert report_main([str(base), "--out", str(tmp_path / "report")]) == 0
    report = (tmp_path / "report" / "report.md").read_text()
    assert "| **fake (multi-agent)** (this run) |" in report and "50.0 ± 28.9 (n=2)" in report
    assert "| M1-32B with CEO (paper) | 62.1 | 97.4 | 62.2 | 95.8 | 93.9 | 90.5 |" in report
    for plot in ("accuracy_vs_tokens.png", "accuracy_vs_rounds.png", "tokens_by_agent.png", "ceo_budgets.png"):
        assert (tmp_path / "report" / plot).read_bytes()[:4] == b"\x89PNG"


def test_requests_spread_over_replicas(tmp_path: Path) -> None:
    data = write_problems(tmp_path / "data.jsonl", 6)
    responder = ScriptedResponder(solver=[solver_reply], evaluator=[RIGHT])
    latency = lambda tokens, in_flight: 0.05  # noqa: E731
    with BackgroundServer(responder, latency=latency) as first, BackgroundServer(responder, latency=latency) as second:
        code = benchmark_main(
            [
                "--task",
                TASK,
                "--data",
                str(data),
                "--run-dir",
                str(tmp_path / "run"),
                "--concurrency",
                "6",
                *model_args(first.base_url),
                "--base-url",
                second.base_url,
            ]
        )
    assert code == 0
    assert len(first.requests) > 5 and len(second.requests) > 5


def test_single_agent_baseline(tmp_path: Path) -> None:
    data = write_problems(tmp_path / "data.jsonl", 4)
    responder = ScriptedResponder(solver=[solver_reply])
    run_dir = tmp_path / "run"
    with BackgroundServer(responder) as server:
        assert (
            benchmark_main(
                [
                    "--task",
                    TASK,
                    "--data",
                    str(data),
                    "--run-dir",
                    str(run_dir),
                    "--single-agent",
                    *model_args(server.base_url),
                ]
            )
            == 0
        )
    assert set(responder.payloads) == {"solver"} and responder.count("solver") == 4
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["score"] == pytest.approx(50.0) and summary["terminations"] == {"single_agent": 4}


def test_bad_data_stops_before_anything_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data.jsonl"
    data.write_text('{"id": "a", "input": "x", "target": "1", "metadata": {}}\n{"id": "b", "input": \n')
    run_dir = tmp_path / "run"
    with pytest.raises(SystemExit) as caught:
        benchmark_main(
            ["--task", TASK, "--data", str(data), "--run-dir", str(run_dir), *model_args("http://127.0.0.1:9/v1")]
        )
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert str(data) in err and "2" in err
    assert not run_dir.exists()


def test_resuming_with_another_config_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_problems(tmp_path / "data.jsonl", 2)
    run_dir = tmp_path / "run"
    with BackgroundServer(ScriptedResponder(solver=[solver_reply], evaluator=[RIGHT])) as server:
        assert (
            benchmark_main(
                ["--task", TASK, "--data", str(data), "--run-dir", str(run_dir), *model_args(server.base_url)]
            )
            == 0
        )
        before = (run_dir / "records.jsonl").read_text()
        code = benchmark_main(
            [
                "--task",
                TASK,
                "--data",
                str(data),
                "--run-dir",
                str(run_dir),
                "--max-turn",
                "1",
                *model_args(server.base_url),
            ]
        )
    assert code == 2 and "different config" in capsys.readouterr().err
    assert (run_dir / "records.jsonl").read_text() == before  # nothing already written is lost


def test_partial_last_line_is_skipped_then_cut(tmp_path: Path) -> None:
    from agentverse.runs.store import RunRecord
    from dataloader.base import Sample

    directory = RunDirectory(tmp_path / "run")
    config = fake_config(TASK, ["http://127.0.0.1:9/v1"])
    directory.prepare(config)
    record = RunRecord(sample=Sample(id="a", input="x", target="1"), status="error", error="boom")
    directory.append(record)
    with directory.records_path.open("a") as handle:
        handle.write('{"sample": {"id": "b"')
    assert list(directory.latest_records()) == ["a"]  # the partial line is not read
    assert directory.finished_ids() == set()  # errors are retried
    directory.prepare(config)
    assert directory.records_path.read_text().endswith("}\n")
    assert directory.records_path.read_text().count("\n") == 1


def test_optional_llm_judge_is_cached(tmp_path: Path) -> None:
    data = write_problems(tmp_path / "data.jsonl", 4)
    run_dir = tmp_path / "run"
    with BackgroundServer(ScriptedResponder(solver=[solver_reply], evaluator=[RIGHT])) as server:
        benchmark_main(["--task", TASK, "--data", str(data), "--run-dir", str(run_dir), *model_args(server.base_url)])
    judge_calls: list[dict[str, Any]] = []

    def judge(payload: dict[str, Any]) -> FakeReply:
        judge_calls.append(payload)
        return FakeReply("It matches.\nVerdict: [Correct]")  # a lenient judge: says every answer is right

    judge_args = ["--judge-model", "judge", "--judge-base-url"]
    with BackgroundServer(judge) as judge_server:
        assert evaluate_main([str(run_dir), *judge_args, judge_server.base_url]) == 0
        first = json.loads((run_dir / "summary.json").read_text())
        assert evaluate_main([str(run_dir), *judge_args, judge_server.base_url]) == 0
    assert len(judge_calls) == 4  # the second evaluation came from the cache
    assert first["judge"]["score"] == pytest.approx(100.0) and first["score"] == pytest.approx(50.0)
    assert first["judge"]["agreement_with_rules"] == pytest.approx(50.0)
    assert judge_calls[0]["model"] == "judge" and judge_calls[0]["temperature"] == 0.7
