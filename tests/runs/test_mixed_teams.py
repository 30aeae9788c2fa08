"""Mixed teams: each role on the endpoint its config names, against two fake servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentverse.llms.openai_backend import OpenAIBackend
from agentverse.llms.pool import ModelPool
from agentverse.runs.runner import SharedClient, run_benchmark
from agentverse.runs.store import RunDirectory
from agentverse.testing.fake_server import (
    BackgroundServer,
    FakeOpenAIServer,
    FakeReply,
    ScriptedResponder,
    classify_agent,
)
from agentverse.testing.machine import free_port
from agentverse_command.benchmark import main as benchmark_main
from agentverse_command.evaluate import main as evaluate_main
from agentverse_command.report import main as report_main
from agentverse_command.sweep import main as sweep_main
from dataloader.base import Sample
from tests.conftest import fake_config
from tests.runs.test_runner import TASK, records_by_id, solver_reply, write_problems

RIGHT = "### Correctness: 1\n### Advice: Fine.\n### Recruiting Suggestion: None."


def team_args(big_url: str, small_url: str, *extra: str) -> list[str]:
    return [
        "--base-url",
        big_url,
        "--model",
        "big",
        "--endpoint",
        f"small=small@{small_url}",
        "--no-progress",
        *extra,
    ]


@contextlib.contextmanager
def two_servers() -> Iterator[tuple[FakeOpenAIServer, FakeOpenAIServer]]:
    """`big` answers the problems (even ones right) and approves; `small` cooperates."""
    with (
        BackgroundServer(ScriptedResponder(solver=[solver_reply], evaluator=[RIGHT]), models=("big",)) as big,
        BackgroundServer(ScriptedResponder(), models=("small",)) as small,
    ):
        yield big, small


def agents_seen(server: Any) -> list[str]:
    return [classify_agent(request.payload) for request in server.requests if request.path.endswith("completions")]


def calls_of(run_dir: Path) -> list[dict[str, Any]]:
    return [call for records in records_by_id(run_dir).values() for call in records[-1]["result"]["calls"]]


def summary_of(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "summary.json").read_text())


def test_the_ceo_calls_reach_only_its_endpoint_and_the_accounting_adds_up(tmp_path: Path) -> None:
    data = write_problems(tmp_path / "data.jsonl", 4)
    run_dir = tmp_path / "run"
    with two_servers() as (big, small):
        args = team_args(big.base_url, small.base_url, "--agent-endpoint", "ceo=small")
        assert benchmark_main(["--task", TASK, "--data", str(data), "--run-dir", str(run_dir), *args]) == 0
    assert set(agents_seen(small)) == {"ceo"}
    assert "ceo" not in agents_seen(big) and {"solver", "critic", "evaluator"} <= set(agents_seen(big))
    calls = calls_of(run_dir)
    ceo_calls = [call for call in calls if call["agent_type"] == "ceo"]
    assert len(ceo_calls) == len(agents_seen(small)) >= 4  # one request per CEO call (no thinking)
    assert all(call["model"] == "small" and call["endpoint_name"] == "small" for call in ceo_calls)
    others = [call for call in calls if call["agent_type"] != "ceo"]
    assert all(call["model"] == "big" and call["endpoint_name"] == "default" for call in others)
    summary = summary_of(run_dir)
    by_agent, by_model, by_endpoint = (
        summary[key] for key in ("tokens_by_agent", "tokens_by_model", "tokens_by_endpoint")
    )
    assert set(by_model) == {"big", "small"} and set(by_endpoint) == {"default", "small"}
    for field in ("calls", "prompt_tokens", "completion_tokens", "failed_calls"):
        total = sum(usage[field] for usage in by_agent.values())
        assert sum(usage[field] for usage in by_model.values()) == total
        assert sum(usage[field] for usage in by_endpoint.values()) == total
        assert by_endpoint["small"][field] == by_model["small"][field] == by_agent["ceo"][field]
    assert by_endpoint["small"]["latency_s"] == pytest.approx(sum(call["latency_s"] for call in ceo_calls))


def test_budget_forcing_happens_only_on_the_thinking_endpoint(tmp_path: Path) -> None:
    data = write_problems(tmp_path / "data.jsonl", 2)
    run_dir = tmp_path / "run"
    thoughts = " ".join(["hmm"] * 400)  # longer than every budget: cut while thinking

    def thinking(answer: str) -> Any:
        def reply(payload: dict[str, Any]) -> FakeReply:
            last = payload["messages"][-1]
            assert last["role"] == "assistant" and last["content"].startswith("<think>")
            return FakeReply(answer if last["content"].endswith("</think>\n\n") else thoughts)

        return reply

    def plain_ceo(payload: dict[str, Any]) -> FakeReply:
        assert payload["messages"][-1]["role"] == "user" and "continue_final_message" not in payload
        assert "<think>" not in json.dumps(payload["messages"])
        return FakeReply(
            "### Decision: <Continue>\n### Recruit Number: 2\n### Direction: Check.\n### Maximum Tokens: 128 "
            + " ".join(["and"] * 400)  # cut at the CEO's max_tokens: a plain model is not forced to answer
        )

    scripts = {
        agent: [thinking(answer)]
        for agent, answer in {
            "role_assigner": "1. An algebra expert\n2. A proof reviewer\n3. A tester",
            "solver": "The answer is \\boxed{0}.",
            "critic": "Fine. [Agree]",
            "evaluator": RIGHT,
        }.items()
    }
    with (
        BackgroundServer(ScriptedResponder(**scripts), models=("big",)) as big,
        BackgroundServer(ScriptedResponder(ceo=[plain_ceo]), models=("small",)) as small,
    ):
        args = team_args(big.base_url, small.base_url, "--agent-endpoint", "ceo=small", "--thinking")
        assert benchmark_main(["--task", TASK, "--data", str(data), "--run-dir", str(run_dir), *args]) == 0
    calls = calls_of(run_dir)
    assert {record[-1]["status"] for record in records_by_id(run_dir).values()} == {"ok"}
    ceo_calls = [call for call in calls if call["agent_type"] == "ceo"]
    assert ceo_calls and all(call["truncated"] and not call["forced_answer"] for call in ceo_calls)
    assert all(call["requests"] == 1 and call["reasoning"] is None for call in ceo_calls)
    solver_calls = [call for call in calls if call["agent_type"] == "solver"]
    assert solver_calls and all(call["forced_answer"] and call["requests"] == 2 for call in solver_calls)
    assert all(call["reasoning"].startswith("hmm") for call in solver_calls)


def test_a_dead_second_endpoint_errors_the_problems_and_leaves_the_first_circuit_alone(tmp_path: Path) -> None:
    samples = [
        Sample(id=f"q{index}", input=f"Problem number {index}: what is {index}?", target=str(index))
        for index in range(6)
    ]
    dead = f"http://127.0.0.1:{free_port()}/v1"
    with BackgroundServer(ScriptedResponder(solver=[solver_reply]), models=("fake-model",)) as big:
        config = fake_config(
            TASK,
            [big.base_url],
            **{
                "endpoints.judge": {
                    "backend": "openai",
                    "model": "small",
                    "base_urls": [dead],
                    "retry_backoff_s": 0.01,
                },
                "agents.evaluator.endpoint": "judge",
            },
        )

        async def run() -> ModelPool:
            pool = ModelPool.from_config(config)
            try:
                shared = SharedClient(pool, asyncio.Semaphore(3))
                run_dir = RunDirectory(tmp_path / "run")
                run_dir.path.mkdir()
                await run_benchmark(config, samples, run_dir, progress=False, shared=shared)
            finally:
                await pool.aclose()
            return pool

        pool = asyncio.run(run())
    records = {key: value[-1] for key, value in records_by_id(tmp_path / "run").items()}
    # Those in flight when the judge's circuit opened are errors; nothing more was started.
    assert 3 <= len(records) < 6 and {record["status"] for record in records.values()} == {"error"}
    assert all("Evaluator (round 1): endpoint 'judge'" in record["result"]["error"] for record in records.values())
    assert all(record["result"]["final_answer"] is None for record in records.values())
    failed = [call for record in records.values() for call in record["result"]["calls"] if call["status"] != "ok"]
    assert failed and all(call["endpoint_name"] == "judge" and call["latency_s"] > 0 for call in failed)
    assert {"solver", "critic"} <= set(agents_seen(big)) and "evaluator" not in agents_seen(big)
    first, second = pool.clients["default"].backend, pool.clients["judge"].backend
    assert isinstance(first, OpenAIBackend) and isinstance(second, OpenAIBackend)
    assert all(endpoint.down_since is None and endpoint.failures == 0 for endpoint in first.endpoints)
    assert all(endpoint.down_since is not None for endpoint in second.endpoints)


def test_a_second_endpoint_dead_at_the_start_stops_the_run_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_problems(tmp_path / "data.jsonl", 2)
    dead = f"http://127.0.0.1:{free_port()}/v1"
    with BackgroundServer(ScriptedResponder(), models=("big",)) as big:
        args = team_args(big.base_url, dead, "--agent-endpoint", "critic=small")
        assert benchmark_main(["--task", TASK, "--data", str(data), "--run-dir", str(tmp_path / "run"), *args]) == 2
    err = capsys.readouterr().err
    assert "endpoint 'small'" in err and dead in err and "Traceback" not in err
    assert not (tmp_path / "run" / "records.jsonl").exists()


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--agent-endpoint", "ceo=tiny"], "unknown endpoint 'tiny'"),
        (["--agent-endpoint", "ceo"], "--agent-endpoint"),
        (["--agent-endpoint", "chef=small"], "chef"),
        (["--endpoint", "small=small"], "--endpoint"),
        (["--endpoint", "=small@http://127.0.0.1:9/v1"], "--endpoint"),
        (["--endpoint", "small=@http://127.0.0.1:9/v1"], "--endpoint"),
        (["--endpoint", "small=small@127.0.0.1:9"], "endpoints.small.base_urls"),
    ],
)
def test_endpoint_flags_are_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], expected: str
) -> None:
    data = write_problems(tmp_path / "data.jsonl", 1)
    args = ["--base-url", "http://127.0.0.1:9/v1", "--model", "big", "--no-progress"]
    if not any(flag.startswith("--endpoint") for flag in flags):
        args += ["--endpoint", "small=small@http://127.0.0.1:9/v1"]
    run_dir = tmp_path / "run"
    with pytest.raises(SystemExit) as caught:
        benchmark_main(["--task", TASK, "--data", str(data), "--run-dir", str(run_dir), *args, *flags])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err and len(err.strip().splitlines()) <= 3
    assert not run_dir.exists()


def test_an_unknown_endpoint_in_the_config_lists_the_defined_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.conftest import edited_task

    small = "endpoints:\n  small: {backend: openai, model: s, base_urls: [http://127.0.0.1:9/v1]}\n\nenvironment:\n"
    edits = {"  - agent_type: ceo\n": "  - agent_type: ceo\n    endpoint: smal\n", "environment:\n": small}
    task = edited_task(TASK, tmp_path, edits)
    data = write_problems(tmp_path / "data.jsonl", 1)
    with pytest.raises(SystemExit) as caught:
        benchmark_main(["--task", task, "--data", str(data), "--run-dir", str(tmp_path / "run")])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "smal" in err and "default" in err and "small" in err and "Traceback" not in err


def test_the_report_and_evaluate_show_the_cost_by_model_and_endpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_problems(tmp_path / "data.jsonl", 2)
    run_dir = tmp_path / "run"
    with two_servers() as (big, small):
        args = team_args(big.base_url, small.base_url, "--agent-endpoint", "ceo=small")
        assert benchmark_main(["--task", TASK, "--data", str(data), "--run-dir", str(run_dir), *args]) == 0
    capsys.readouterr()
    assert evaluate_main([str(run_dir)]) == 0
    printed = capsys.readouterr().out
    summary = summary_of(run_dir)
    share = (
        100
        * summary["tokens_by_agent"]["ceo"]["completion_tokens"]
        / sum(usage["completion_tokens"] for usage in summary["tokens_by_agent"].values())
    )
    endpoint_table = printed[printed.index("    endpoint ") :]  # its header, then one row per endpoint
    calls = summary["tokens_by_agent"]["ceo"]["calls"]
    assert re.search(rf"^    small +{calls} +0 +[\d,]+ +[\d,]+ +{share:.1f}% ", endpoint_table, re.MULTILINE)
    assert report_main([str(run_dir), "--out", str(tmp_path / "report")]) == 0
    report = (tmp_path / "report" / "report.md").read_text()
    assert "## Tokens by endpoint" in report and "## Tokens by model" in report
    assert re.search(rf"\| small \| {summary['tokens_by_agent']['ceo']['calls']} \| 0 \| .* \| {share:.1f}% \|", report)


def test_a_sweep_axis_can_move_a_role_to_another_endpoint(tmp_path: Path) -> None:
    data = write_problems(tmp_path / "data.jsonl", 2)
    spec = {"task": TASK, "data": str(data), "runs": 1, "grid": {"agents.ceo.endpoint": ["default", "small"]}}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec))
    out = tmp_path / "sweep"
    with two_servers() as (big, small):
        args = team_args(big.base_url, small.base_url)[:-1]  # (a sweep shows no progress bar)
        assert sweep_main([str(path), "--out", str(out), *args]) == 0
    assert set(agents_seen(small)) == {"ceo"} and "ceo" in agents_seen(big)
    assert len(agents_seen(small)) == agents_seen(big).count("ceo")  # the same problems, the same CEO turns
    assert sorted(path.name for path in (out / "points").iterdir()) == ["ceo.endpoint=default", "ceo.endpoint=small"]
    for endpoint in ("default", "small"):
        calls = calls_of(out / "points" / f"ceo.endpoint={endpoint}" / "run-1")
        assert {call["endpoint_name"] for call in calls if call["agent_type"] == "ceo"} == {endpoint}
        assert {call["endpoint_name"] for call in calls if call["agent_type"] != "ceo"} == {"default"}


def test_tasksolving_sends_each_role_to_its_endpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from agentverse_command.tasksolving import main as tasksolving_main

    trace = tmp_path / "trace.json"
    with (
        BackgroundServer(ScriptedResponder(evaluator=[RIGHT]), models=("big",)) as big,
        BackgroundServer(ScriptedResponder(), models=("small",)) as small,
    ):
        team = [*team_args(big.base_url, small.base_url, "--agent-endpoint", "ceo=small")]
        team.remove("--no-progress")  # a benchmark option
        code = tasksolving_main(
            ["--task", TASK, "--input", "What is 1?", "--output", str(trace), "--no-thinking", *team]
        )
    assert code == 0, capsys.readouterr().err
    assert set(agents_seen(small)) == {"ceo"} and "ceo" not in agents_seen(big)
    assert {
        call["endpoint_name"] for call in json.loads(trace.read_text())["calls"] if call["agent_type"] == "ceo"
    } == {"small"}
