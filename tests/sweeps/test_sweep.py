"""agentverse-sweep end to end against a fake server whose model has a known accuracy curve:
a draft is right on round r for the problems with index % 4 < r; a self-consistency sample is
right only when it is the second of its problem's samples to arrive."""

from __future__ import annotations

import csv
import json
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from agentverse.testing.fake_server import BackgroundServer, FakeReply, classify_agent
from agentverse_command.sweep import main as sweep_main

ROOT = Path(__file__).resolve().parents[2]
PROBLEMS = 8
SC_BUDGET = 256  # the smollm2 solver's configured max_tokens: what the self-consistency samples use
CEO = "### Decision: <Continue>\n### Recruit Number: 2\n### Direction: Work it out.\n### Maximum Tokens: 128"
WRONG = "### Correctness: 0\n### Advice: Try again.\n### Recruiting Suggestion: None."


def write_problems(path: Path) -> Path:
    lines = [
        json.dumps({"id": f"q{index}", "input": f"Problem number {index}: what is {index}?", "target": str(index)})
        for index in range(PROBLEMS)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


class KnownModel:
    def __init__(self) -> None:
        self.sc_arrivals: Counter[tuple[int, Any]] = Counter()
        self.sc_seeds: Counter[tuple[int, Any]] = Counter()  # (problem, seed): a seed used twice repeats a sample
        self.requests: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, payload: dict[str, Any]) -> FakeReply:
        agent = classify_agent(payload)
        self.requests.append((agent, payload))
        text = "\n".join(message["content"] for message in payload["messages"])
        index = int(re.search(r"Problem number (\d+)", text).group(1))  # type: ignore[union-attr]
        if agent == "ceo":
            return FakeReply(CEO)
        if agent == "critic":
            return FakeReply("Fine. [Agree]")
        if agent == "evaluator":
            return FakeReply(WRONG)
        if agent != "solver":
            return FakeReply("1. An algebraist\n2. A checker\n3. A tester")
        if payload["max_tokens"] == SC_BUDGET:  # a self-consistency sample
            seed = payload.get("seed")
            self.sc_seeds[(index, seed)] += 1
            key = (index, None if seed is None else seed // 1000)  # the run: samples of a run differ in seed
            self.sc_arrivals[key] += 1
            right = self.sc_arrivals[key] == 2
        else:  # the loop's solver on round r (r CEO directions in its memory), or the single agent
            right = index % 4 < max(1, text.count("[CEO]: "))
        return FakeReply(f"The answer is \\boxed{{{index if right else index + 100}}}.")


def sweep_file(tmp_path: Path, data: Path, grid: dict[str, Any], runs: int = 2) -> Path:
    spec = {
        "task": "tasksolving/math500/smollm2",
        "data": str(data),
        "runs": runs,
        "grid": grid,
        "baselines": {"single_agent": {"match": "tokens"}, "self_consistency": {"k": [1, 2, 4]}},
    }
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def model_args(base_url: str) -> list[str]:
    return ["--base-url", base_url, "--model", "fake", "--no-thinking"]


def rows_by_system(out: Path) -> dict[str, dict[str, str]]:
    with (out / "points.csv").open() as handle:
        return {row["system"]: row for row in csv.DictReader(handle)}


def test_a_sweep_recovers_the_known_curve_and_its_baselines(tmp_path: Path) -> None:
    data = write_problems(tmp_path / "problems.jsonl")
    path = sweep_file(tmp_path, data, {"environment.max_turn": [1, 2, 3]})
    model = KnownModel()
    out = tmp_path / "sweep"
    with BackgroundServer(model) as server:
        assert sweep_main([str(path), "--out", str(out), *model_args(server.base_url)]) == 0
    rows = rows_by_system(out)
    for turns, expected in ((1, 25.0), (2, 50.0), (3, 75.0)):
        row = rows[f"max_turn={turns}"]
        score, error = float(row["score"]), float(row["standard_error"])
        assert abs(score - expected) <= max(2 * error, 1e-6), row
        assert float(row["ci_low"]) <= expected <= float(row["ci_high"])
        assert int(row["runs"]) == 2 and int(row["problems"]) == PROBLEMS
    # The matched single agent was given its point's mean completion tokens as its budget.
    for turns in (1, 2, 3):
        point = rows[f"max_turn={turns}"]
        single = rows[f"max_turn={turns}+single-agent"]
        budget = json.loads(single["settings"])["solver max_tokens"]
        assert budget == round(float(point["mean_completion_tokens"]))
        assert float(single["score"]) == 25.0
    single_budgets = {
        payload["max_tokens"]
        for agent, payload in model.requests
        if agent == "solver" and "[CEO]: " not in json.dumps(payload) and payload["max_tokens"] != SC_BUDGET
    }
    expected_budgets = {
        json.loads(rows[f"max_turn={t}+single-agent"]["settings"])["solver max_tokens"] for t in (1, 2, 3)
    }
    assert single_budgets == expected_budgets
    # Self-consistency: exactly 4 samples per problem per run, one of them right.
    assert set(model.sc_arrivals.values()) == {4} and len(model.sc_arrivals) == PROBLEMS * 2
    assert set(model.sc_seeds.values()) == {1}  # each sample its own seed: a seed-honouring server varies them
    assert float(rows["self-consistency k=1"]["pass_at_k"]) == 25.0
    assert float(rows["self-consistency k=2"]["pass_at_k"]) == 50.0  # 1 - C(3,2)/C(4,2)
    assert float(rows["self-consistency k=4"]["pass_at_k"]) == 100.0
    assert float(rows["self-consistency k=4"]["score"]) == 0.0  # the three wrong samples agree
    report = (out / "report.md").read_text()
    assert "## Matched compute" in report and "max_turn=2+single-agent" in report and "paired p" in report
    for plot in ("pareto.png", "scaling-max_turn.png", "ceo-choices.png"):
        assert (out / plot).stat().st_size > 1000


def test_kill_9_mid_sweep_then_rerun_runs_no_problem_twice(tmp_path: Path) -> None:
    data = write_problems(tmp_path / "problems.jsonl")
    path = sweep_file(tmp_path, data, {"environment.max_turn": [1, 2]}, runs=1)
    out = tmp_path / "sweep"
    with BackgroundServer(KnownModel(), latency=lambda tokens, in_flight: 0.2) as server:
        command = [sys.executable, "-m", "agentverse_command.sweep", str(path), "--out", str(out)]
        command += [*model_args(server.base_url), "--concurrency", "4"]
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        records = out / "points" / "max_turn=2" / "run-1" / "records.jsonl"
        deadline = time.time() + 60
        while time.time() < deadline and not (records.exists() and records.read_text().count("\n") >= 2):
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert sweep_main([str(path), "--out", str(out), *model_args(server.base_url)]) == 0
    for directory in (out / "points").glob("*/run-1"):
        ids = [json.loads(line)["sample"]["id"] for line in (directory / "records.jsonl").read_text().splitlines()]
        assert len(ids) == PROBLEMS and len(set(ids)) == PROBLEMS, directory
    assert (out / "report.md").exists()


def test_a_bad_grid_key_is_one_error_naming_the_sweep_file(tmp_path: Path, capsys: Any) -> None:
    data = write_problems(tmp_path / "problems.jsonl")
    path = sweep_file(tmp_path, data, {"environment.max_turns": [1]})
    assert sweep_main([str(path), "--out", str(tmp_path / "out"), "--base-url", "http://127.0.0.1:1/v1"]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "max_turns" in err and "Traceback" not in err


def test_bad_grid_values_and_duplicate_points_are_one_error(tmp_path: Path, capsys: Any) -> None:
    data = write_problems(tmp_path / "problems.jsonl")
    cases = {
        "dates": f"task: tasksolving/math500/smollm2\ndata: {data}\ngrid:\n  environment.max_turn: [2024-01-01]\n",
        "twins": f"task: tasksolving/math500/smollm2\ndata: {data}\ngrid:\n  environment.max_turn: [1, 1]\n",
    }
    for name, text in cases.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(text)
        assert sweep_main([str(path), "--out", str(tmp_path / name), *model_args("http://127.0.0.1:1/v1")]) == 2
        err = capsys.readouterr().err
        assert str(path) in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        assert ("quote it" if name == "dates" else "both be named 'max_turn=1'") in err
        assert not (tmp_path / name).exists()


def one_point_with_its_single_agent(tmp_path: Path) -> Path:
    """A sweep file: max_turn 1 and its matched single agent, one run."""
    data = write_problems(tmp_path / "problems.jsonl")
    spec = {"task": "tasksolving/math500/smollm2", "data": str(data), "grid": {"environment.max_turn": [1]}}
    spec["baselines"] = {"single_agent": {"match": "tokens"}}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_the_matched_single_agent_waits_for_a_complete_point(tmp_path: Path, capsys: Any) -> None:
    path = one_point_with_its_single_agent(tmp_path)
    model = KnownModel()
    broken = {"on": True}

    def responder(payload: dict[str, Any]) -> FakeReply:
        if broken["on"] and "Problem number 3:" in json.dumps(payload):
            return FakeReply(status=503)
        return model(payload)

    out = tmp_path / "sweep"
    with BackgroundServer(responder) as server:
        args = [str(path), "--out", str(out), *model_args(server.base_url)]
        assert sweep_main(args) == 1
        err = capsys.readouterr().err
        assert "max_turn=1: 1 problem run(s) not completed" in err and "Traceback" not in err
        assert not (out / "points" / "max_turn=1+single-agent").exists()  # not started from a partial point
        assert (out / "report.md").exists()  # what is done is reported
        broken["on"] = False
        assert sweep_main(args) == 0
    rows = rows_by_system(out)
    budget = json.loads(rows["max_turn=1+single-agent"]["settings"])["solver max_tokens"]
    assert budget == round(float(rows["max_turn=1"]["mean_completion_tokens"]))
    assert int(rows["max_turn=1"]["problems"]) == PROBLEMS


def test_a_damaged_single_agent_config_is_one_error(tmp_path: Path, capsys: Any) -> None:
    path = one_point_with_its_single_agent(tmp_path)
    out = tmp_path / "sweep"
    with BackgroundServer(KnownModel()) as server:
        assert sweep_main([str(path), "--out", str(out), *model_args(server.base_url)]) == 0
        config = out / "points" / "max_turn=1+single-agent" / "run-1" / "config.yaml"
        config.write_text("agents: [")
        assert sweep_main([str(path), "--out", str(out), *model_args(server.base_url)]) == 2
    err = capsys.readouterr().err
    assert str(config) in err and "damaged" in err and "Traceback" not in err


def test_points_differing_in_llm_settings_share_one_connection_cap(tmp_path: Path) -> None:
    """Two points on one server, differing in an `llm.*` setting: the server's cap holds for both
    together (before, each point had its own client and cap, so the server saw twice the cap)."""
    data = write_problems(tmp_path / "problems.jsonl")
    spec = {"task": "tasksolving/math500/smollm2", "data": str(data), "grid": {"llm.fit_to_context": [True, False]}}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec))
    with BackgroundServer(KnownModel(), latency=lambda tokens, in_flight: 0.05) as server:
        args = [str(path), "--out", str(tmp_path / "sweep"), *model_args(server.base_url), "--max-concurrency", "2"]
        assert sweep_main(args) == 0
        assert server.max_in_flight == 2


def test_a_sweep_says_how_far_it_is(tmp_path: Path, capsys: Any) -> None:
    data = write_problems(tmp_path / "problems.jsonl")
    spec = {"task": "tasksolving/math500/smollm2", "data": str(data), "grid": {"environment.max_turn": [1, 2]}}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec))
    with BackgroundServer(KnownModel(), latency=lambda tokens, in_flight: 0.1) as server:
        args = [str(path), "--out", str(tmp_path / "sweep"), *model_args(server.base_url), "--heartbeat", "0.2"]
        assert sweep_main([*args, "--concurrency", "2"]) == 0
    beats = [line for line in capsys.readouterr().err.splitlines() if line.startswith("sweep: ")]
    counts = [int(line.split()[1]) for line in beats]
    assert len(beats) >= 2 and counts == sorted(counts) and "of about 16" in beats[0]
