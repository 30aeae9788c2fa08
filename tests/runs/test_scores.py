"""Scores you can trust: infrastructure failures are errors (excluded, retried), model failures are
wrong answers (counted), resume never reuses a record of a changed problem, grading happens once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agentverse.graders import registry as grader_registry
from agentverse.graders.base import Grade, GradeStatus
from agentverse.testing.fake_server import BackgroundServer, FakeReply, ScriptedResponder
from agentverse_command.benchmark import main as benchmark_main
from agentverse_command.evaluate import main as evaluate_main
from tests.conftest import edited_task
from tests.runs.test_runner import TASK, model_args, problem_index, records_by_id, solver_reply, write_problems

WRONG = "### Correctness: 0\n### Advice: Check again.\n### Recruiting Suggestion: None."


def is_round_two(payload: dict[str, Any]) -> bool:
    """The solver's round-2 call carries its round-1 memory (an assistant turn); critics agree,
    so round 1 has no revision."""
    return any(message["role"] == "assistant" for message in payload.get("messages", []))


def grades(run_dir: Path) -> dict[str, tuple[str, float]]:
    latest = {key: records[-1] for key, records in records_by_id(run_dir).items()}
    return {key: (record["grade"]["status"], record["grade"]["score"]) for key, record in latest.items()}


def summary_of(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "summary.json").read_text())


def run(server_url: str, data: Path, run_dir: Path, *extra: str) -> int:
    """The shipped config with a short retry backoff (its file lives beside the data)."""
    backoff = {"  context_length: 8192\n": "  context_length: 8192\n  retry_backoff_s: 0.01\n"}
    task = edited_task(TASK, data.parent, backoff)
    return benchmark_main(
        ["--task", task, "--data", str(data), "--run-dir", str(run_dir), *model_args(server_url), *extra]
    )


def test_a_round_two_failure_is_an_error_and_resume_matches_a_fault_free_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_problems(tmp_path / "data.jsonl", 6)
    broken = {"on": True}

    def solver(payload: dict[str, Any]) -> FakeReply:
        if broken["on"] and is_round_two(payload) and problem_index(payload) in (1, 4):
            return FakeReply(status=503)
        return solver_reply(payload)

    responder = ScriptedResponder(solver=[solver], evaluator=[WRONG])
    faulty, clean = tmp_path / "faulty", tmp_path / "clean"
    with BackgroundServer(responder) as server:
        assert run(server.base_url, data, faulty, "--concurrency", "6") == 1
        first = summary_of(faulty)
        err = capsys.readouterr().err
        assert "2 of 6 problems" in err and "q1" in err and "q4" in err  # which problems to retry
        broken["on"] = False
        assert run(server.base_url, data, faulty) == 0  # resumed, the server healthy
        assert run(server.base_url, data, clean) == 0  # a run that never saw a fault
    assert first["errors"] == 2 and first["completed"] == 4 and first["problems"] == 6
    assert sorted(problem["id"] for problem in first["error_problems"]) == ["q1", "q4"]
    assert all("(round 2)" in problem["error"] for problem in first["error_problems"])
    failed = records_by_id(faulty)["q1"][0]
    assert failed["status"] == "error" and failed["grade"] is None
    assert failed["result"]["final_answer"] is None  # the round-1 draft was not kept as the answer
    assert first["score"] == pytest.approx(100 * 2 / 4)  # q0, q2 right; q3, q5 wrong; errors excluded
    assert grades(faulty) == grades(clean)
    assert summary_of(faulty)["score"] == summary_of(clean)["score"] == pytest.approx(50.0)
    assert summary_of(faulty)["errors"] == 0


def test_a_solver_that_never_answers_counts_as_wrong(tmp_path: Path) -> None:
    data = write_problems(tmp_path / "data.jsonl", 4)

    def solver(payload: dict[str, Any]) -> FakeReply:
        return FakeReply("   ") if problem_index(payload) == 0 else solver_reply(payload)

    run_dir = tmp_path / "run"
    with BackgroundServer(ScriptedResponder(solver=[solver])) as server:
        assert run(server.base_url, data, run_dir) == 0  # a model failure is not an error
    summary = summary_of(run_dir)
    assert summary["completed"] == 4 and summary["errors"] == 0 and summary["no_answer"] == 1
    assert summary["score"] == pytest.approx(100 * 1 / 4)  # q2 right; q0 no answer; q1, q3 wrong
    record = records_by_id(run_dir)["q0"][0]
    assert record["status"] == "ok" and record["grade"]["status"] == "no_answer"
    assert record["result"]["termination"] == "solver_failed"


def test_changed_problems_are_run_again_and_the_summary_covers_the_slice(tmp_path: Path) -> None:
    data = write_problems(tmp_path / "data.jsonl", 4)
    run_dir = tmp_path / "run"
    responder = ScriptedResponder(solver=[solver_reply])
    with BackgroundServer(responder) as server:
        assert run(server.base_url, data, run_dir) == 0
        assert summary_of(run_dir)["score"] == pytest.approx(50.0)
        lines = [json.loads(line) for line in data.read_text().splitlines()]
        lines[1]["target"] = "101"  # the fake solver answers 101 for problem 1: now right
        data.write_text("".join(json.dumps(line) + "\n" for line in lines))
        before = responder.count("solver")
        assert run(server.base_url, data, run_dir) == 0
        assert responder.count("solver") == before + 1  # only the changed problem ran again
        assert summary_of(run_dir)["score"] == pytest.approx(75.0)
        assert run(server.base_url, data, run_dir, "--limit", "2") == 0
        assert responder.count("solver") == before + 1  # nothing new to run
    summary = summary_of(run_dir)
    assert summary["problems"] == 2 and summary["completed"] == 2  # exactly the --limit slice
    assert summary["score"] == pytest.approx(100.0)
    assert evaluate_main([str(run_dir)]) == 0
    assert summary_of(run_dir)["problems"] == 2  # re-summarizing keeps the slice


def test_another_endpoint_for_the_same_model_resumes(tmp_path: Path) -> None:
    data = write_problems(tmp_path / "data.jsonl", 4)
    run_dir = tmp_path / "run"
    first_responder = ScriptedResponder(solver=[solver_reply])
    with BackgroundServer(first_responder) as server:
        assert run(server.base_url, data, run_dir, "--limit", "2") == 0
    second_responder = ScriptedResponder(solver=[solver_reply])
    with BackgroundServer(second_responder) as other:  # another port
        assert run(other.base_url, data, run_dir, "--api-key-env", "PATH") == 0
    assert second_responder.count("solver") == 2  # only the two new problems
    assert summary_of(run_dir)["problems"] == 4
    assert other.base_url in (run_dir / "config.yaml").read_text()
    assert "resumed with other transport settings: base_urls, api_key_env" in (run_dir / "run.log").read_text()


def test_grades_are_stored_once_and_regraded_only_on_request(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = write_problems(tmp_path / "data.jsonl", 4)
    run_dir = tmp_path / "run"
    calls: list[str] = []
    real_grader = grader_registry.GRADERS.get("math")

    async def counting_grader(sample: Any, response: str) -> Grade:
        calls.append(sample.id)
        return await real_grader(sample, response)

    monkeypatch.setitem(grader_registry.GRADERS._items, "math", counting_grader)
    with BackgroundServer(ScriptedResponder(solver=[solver_reply])) as server:
        assert run(server.base_url, data, run_dir) == 0
    assert sorted(calls) == ["q0", "q1", "q2", "q3"]  # once each, by the runner
    assert evaluate_main([str(run_dir)]) == 0
    assert len(calls) == 4  # the summary reads the stored grades

    async def strict_grader(sample: Any, response: str) -> Grade:
        return Grade(status=GradeStatus.INCORRECT, score=0.0, detail="a stricter grader")

    monkeypatch.setitem(grader_registry.GRADERS._items, "math", strict_grader)
    assert evaluate_main([str(run_dir), "--regrade"]) == 0
    assert summary_of(run_dir)["score"] == pytest.approx(0.0)


@pytest.mark.parametrize(("allowance", "code"), [("1", 0), ("0.25", 0), ("0.2", 1), ("0", 1)])
def test_max_errors_sets_the_exit_code(tmp_path: Path, allowance: str, code: int) -> None:
    data = write_problems(tmp_path / "data.jsonl", 4)

    def solver(payload: dict[str, Any]) -> FakeReply:
        return FakeReply(status=503) if problem_index(payload) == 2 else solver_reply(payload)

    run_dir = tmp_path / "run"
    with BackgroundServer(ScriptedResponder(solver=[solver])) as server:
        assert run(server.base_url, data, run_dir, "--max-errors", allowance) == code
    assert summary_of(run_dir)["errors"] == 1  # written either way


def test_a_prompt_larger_than_the_context_is_not_sent_and_counts_as_no_answer(tmp_path: Path) -> None:
    data = tmp_path / "data.jsonl"
    huge = "word " * 40_000  # about 70,000 estimated tokens against a 8192-token context
    rows = [{"id": "big", "input": f"Problem number 0: {huge}", "target": "0", "metadata": {}}]
    rows.append({"id": "small", "input": "Problem number 2: what is 2?", "target": "2", "metadata": {}})
    data.write_text("".join(json.dumps(row) + "\n" for row in rows))
    responder = ScriptedResponder(solver=[solver_reply])
    run_dir = tmp_path / "run"
    with BackgroundServer(responder) as server:
        assert run(server.base_url, data, run_dir, "--no-ceo") == 0  # a model-side failure, not an error
    assert all("word word word" not in json.dumps(payload) for payload in responder.payloads.get("solver", []))
    record = records_by_id(run_dir)["big"][0]
    assert record["status"] == "ok" and record["grade"]["status"] == "no_answer"
    overflows = [call["agent_type"] for call in record["result"]["calls"] if call["status"] == "context_overflow"]
    assert overflows == ["role_assigner", "solver"]  # each once: not retried, the prompt would not shrink
    summary = summary_of(run_dir)
    assert summary["context_overflows"] == 2 and summary["completed"] == 2
    assert summary["score"] == pytest.approx(50.0)
