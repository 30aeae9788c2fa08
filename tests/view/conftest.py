"""A small run directory made by the fake server for the viewer's tests: two problems over two
rounds, with a CEO budget clamped to the menu, a CEO fallback, a critic who disagrees, an
unreadable CEO reply (failed calls) and an HTTP 500 retried."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agentverse.testing.fake_server import BackgroundServer, FakeReply, ScriptedResponder
from agentverse_command.benchmark import main as benchmark_main

TASK = "tasksolving/math500/smollm2"
# Markup in a problem (or a reply) must reach the page as text: it never runs, and never breaks the page.
INJECTION = '<!--<script>window.injected = 1</script> <img src=x onerror="window.injected = 2"> & </script>'

PROBLEMS = [
    {"id": "p1", "input": "Compute $\\frac{1}{2}+\\frac{1}{4}$.", "target": "\\frac{3}{4}", "metadata": {}},
    {"id": "p2", "input": f"What is $\\sqrt{{16}}+1$? {INJECTION}", "target": "5", "metadata": {}},
]
CRITIQUE = "The sum of the fractions is wrong."


def text_of(payload: dict[str, Any]) -> str:
    return "\n".join(message.get("content", "") for message in payload.get("messages", []))


def second_round(payload: dict[str, Any]) -> bool:
    return "No solution yet." not in text_of(payload)


def ceo(payload: dict[str, Any]) -> FakeReply:
    if "sqrt" in text_of(payload) and second_round(payload):
        return FakeReply("I would rather not decide.")  # unreadable every time: the CEO falls back
    direction = "Recheck the last step." if second_round(payload) else "Check each step."
    return FakeReply(
        f"### Decision: <Continue>\n### Recruit Number: 2\n### Direction: {direction}\n### Maximum Tokens: 5000"
    )


class Team:
    """The other agents, each reply read off the request (so concurrency cannot change them)."""

    def __init__(self) -> None:
        self.failed_once: set[str] = set()

    def solver(self, payload: dict[str, Any]) -> FakeReply:
        text = text_of(payload)
        if "sqrt" in text and "solver-500" not in self.failed_once:
            self.failed_once.add("solver-500")
            return FakeReply(status=500)  # an HTTP error, retried
        return FakeReply("So $x = \\frac{3}{4}$: \\boxed{\\frac{3}{4}}" if "frac" in text else "So: \\boxed{6}")

    @staticmethod
    def critic(payload: dict[str, Any]) -> FakeReply:
        text = text_of(payload)
        if "frac" in text and "Check each step." in text and CRITIQUE not in text:  # round 1, first review
            return FakeReply(f"{CRITIQUE} [Disagree]")
        return FakeReply("The reasoning holds. [Agree]")

    @staticmethod
    def evaluator(payload: dict[str, Any]) -> FakeReply:
        if second_round(payload) and "Recheck the last step." in text_of(payload):
            return FakeReply("### Correctness: 1\n### Advice: None needed.\n### Recruiting Suggestion: None.")
        return FakeReply("### Correctness: 0\n### Advice: Recheck the sum.\n### Recruiting Suggestion: A tester.")


def make_run(folder: Path, *extra: str) -> Path:
    data = folder / "problems.jsonl"
    data.write_text("".join(json.dumps(problem) + "\n" for problem in PROBLEMS))
    team = Team()
    responder = ScriptedResponder(
        ceo=[ceo],
        solver=[team.solver],
        critic=[team.critic],
        evaluator=[team.evaluator],
    )
    run_dir = folder / ("run-no-ceo" if "--no-ceo" in extra else "run")
    with BackgroundServer(responder) as server:
        args = ["--task", TASK, "--data", str(data), "--run-dir", str(run_dir), "--base-url", server.base_url]
        args += ["--model", "fake", "--no-thinking", "--no-progress", "--max-concurrency", "4", *extra]
        assert benchmark_main(args) == 0
    return run_dir


@pytest.fixture(scope="session")
def view_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The CEO run and a run without the CEO on the same problems (for the side-by-side view)."""
    folder = tmp_path_factory.mktemp("view")
    return make_run(folder), make_run(folder, "--no-ceo")
