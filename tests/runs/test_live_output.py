"""The terminal stays alive: progress shows while a slow call is in flight, each line as it is printed."""

from __future__ import annotations

import io
import queue
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

import pytest

from agentverse.testing.fake_server import BackgroundServer, FakeOpenAIServer, FakeReply, ScriptedResponder
from agentverse.trace import CallEnded, CallStarted, TraceEvent
from agentverse_command.console import LiveStatus, table
from agentverse_command.tasksolving import Printer, event_lines
from tests.runs.test_runner import ROOT, TASK, solver_reply, write_problems

SLOW_S = 3.0  # the solver's reply delay: long enough to see the progress lines come while it runs


class Lines:
    """The lines a child process writes to its two pipes, in the order they arrive."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.arrived: queue.Queue[tuple[str, str | None]] = queue.Queue()
        self.seen: list[tuple[str, str]] = []
        for name, pipe in (("out", process.stdout), ("err", process.stderr)):
            threading.Thread(target=self.read, args=(name, pipe), daemon=True).start()

    def read(self, name: str, pipe: IO[str] | None) -> None:
        assert pipe is not None
        for line in pipe:
            self.arrived.put((name, line.rstrip("\n")))
        self.arrived.put((name, None))

    def first(self, stream: str, pattern: str, timeout_s: float = 60.0) -> str:
        """Wait for the first line of `stream` ("out" or "err") that matches `pattern`."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                name, line = self.arrived.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                continue
            self.seen.append((name, line))
            if name == stream and re.search(pattern, line):
                return line
        raise AssertionError(f"no line matching {pattern!r} on std{stream}; seen: {self.seen}")


def solver_requests_unanswered(server: FakeOpenAIServer) -> bool:
    solver = [request for request in server.requests if "You are the solver" in str(request.payload)]
    return bool(solver) and all(request.finished == 0.0 for request in solver)


def popen(command: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def fake_model(server: FakeOpenAIServer) -> list[str]:
    return ["--base-url", server.base_url, "--model", "fake", "--no-thinking"]


def test_tasksolving_names_the_working_agent_while_its_call_is_in_flight(tmp_path: Path) -> None:
    responder = ScriptedResponder(solver=[FakeReply("The answer is \\boxed{1}.", delay_s=SLOW_S)])
    with BackgroundServer(responder) as server:
        command = [sys.executable, "-m", "agentverse_command.tasksolving", "--task", TASK, "--input", "What is 1?",
                   "--output", str(tmp_path / "trace.json"), "--heartbeat", "0.5", *fake_model(server)]  # fmt: skip
        process = popen(command)
        lines = Lines(process)
        lines.first("out", r"^=== round 1 ===$")
        assert process.poll() is None  # stdout is a pipe, and its lines still come as they are printed
        beat = lines.first("err", r"working")
        assert re.fullmatch(r"  … Solver \(round 1\) working, \d+ s", beat)
        assert solver_requests_unanswered(server)  # said while the solver's call is still in flight
        assert process.wait(timeout=60) == 0
    solver_line = lines.first("out", r"^  \[Solver\] ok")
    assert re.search(r"\d+\+\d+ tokens, [3-9]\.\d s", solver_line)


def test_benchmark_prints_progress_lines_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    data = write_problems(tmp_path / "data.jsonl", 2)

    def slow_solver(payload: dict[str, Any]) -> FakeReply:
        return FakeReply(solver_reply(payload).text, delay_s=SLOW_S)

    with BackgroundServer(ScriptedResponder(solver=[slow_solver])) as server:
        command = [sys.executable, "-m", "agentverse_command.benchmark", "--task", TASK, "--data", str(data),
                   "--run-dir", str(tmp_path / "run"), "--heartbeat", "0.5", *fake_model(server)]  # fmt: skip
        process = popen(command)
        lines = Lines(process)
        progress = lines.first("err", r"calls in flight")
        assert re.fullmatch(r"math500: 0/2 done, 0 errors, score n/a, [12] calls in flight, \d+ s", progress)
        assert solver_requests_unanswered(server)
        assert process.wait(timeout=60) == 0
    assert "\r" not in "".join(line for _, line in lines.seen)  # lines, not a bar redrawn in place


def test_a_terminal_gets_one_spinner_line_redrawn_in_place() -> None:
    screen = io.StringIO()
    status = LiveStatus(screen, interval_s=5.0, terminal=True)
    printer = Printer(full=False, status=status)
    call = CallStarted(round=2, agent="Critic 1", agent_type="critic", attempt=1)
    printer(call)
    status.tick()
    status.tick()
    assert screen.getvalue().count("\r\x1b[K") == 2 and "Critic 1 (round 2) working, 0 s" in screen.getvalue()
    assert "\n" not in screen.getvalue()  # redrawn in place
    printer(TraceEvent(round=2, kind="consensus", detail={"inner_turn": 1}))
    assert screen.getvalue().endswith("\r\x1b[K")  # erased before the event's line is printed
    printer(CallEnded(call))
    status.tick()
    assert status.describe() is None and screen.getvalue().endswith("\r\x1b[K")


def test_the_spinner_line_never_wraps(monkeypatch: pytest.MonkeyPatch) -> None:
    """Three critics at once make a line wider than the terminal; a wrapped line cannot be cleared in
    place, so each redraw would leave one behind."""
    monkeypatch.setenv("COLUMNS", "60")
    screen = io.StringIO()
    status = LiveStatus(screen, interval_s=5.0, terminal=True)
    for index in (1, 2, 3):
        status.observe(CallStarted(round=1, agent=f"Critic {index}", agent_type="critic", attempt=1))
    status.tick()
    drawn = screen.getvalue().rsplit("\r\x1b[K", 1)[-1]
    assert len(drawn) <= 59 and drawn.endswith("…") and "Critic 1" in drawn


def test_a_heartbeat_mentions_only_calls_that_have_lasted() -> None:
    log = io.StringIO()
    status = LiveStatus(log, interval_s=60.0, terminal=False)
    status.observe(CallStarted(round=1, agent="Solver", agent_type="solver", attempt=1))
    status.tick()
    assert log.getvalue() == ""  # it only just started
    status.interval_s = 0.0
    status.tick()
    assert log.getvalue() == "  … Solver (round 1) working, 0 s\n"


CEO_DECISION = {"decision": "continue", "recruit_number": 3, "direction": "Check the algebra.", "max_tokens": 4096}


@pytest.mark.parametrize(
    ("kind", "detail", "clamped", "expected"),
    [
        ("round_start", {}, {}, ["", "=== round 1 ==="]),
        (
            "ceo_decision",
            {**CEO_DECISION, "source": "ceo"},
            {"max_tokens": {"asked": 5000, "used": 4096}},
            ["round 1  CEO: continue, recruit 3, budget 4096 (clamped from 5000)  direction: Check the algebra."],
        ),
        (
            "ceo_decision",
            {**CEO_DECISION, "source": "ceo"},
            {"recruit_number": {"asked": 9, "used": 3}},
            ["round 1  CEO: continue, recruit 3 (asked 9), budget 4096  direction: Check the algebra."],
        ),
        (
            "ceo_decision",
            {**CEO_DECISION, "direction": "", "max_tokens": None, "source": "fixed"},
            {},
            ["round 1  no CEO: recruit 3, budget each agent's own"],
        ),
        (
            "roles",
            {"roles": ["An algebraist", "A checker"]},
            {},
            ["round 1  solver role: An algebraist", "round 1  critic 1 role: A checker"],
        ),
        (
            "critic_verdicts",
            {"agree": [True, False, None]},
            {},
            [
                "round 1  critic 1: agree",
                "round 1  critic 2: disagree",
                "round 1  critic 3: no verdict (reply unreadable)",
            ],
        ),
        (
            "evaluation",
            {"correct": True, "advice": "Fine.", "recruiting_suggestion": "A geometer."},
            {},
            ["round 1  evaluator: 1  advice: Fine.  recruiting suggestion: A geometer."],
        ),
        (
            "evaluation",
            {"correct": False, "advice": "Recheck step 2."},
            {},
            ["round 1  evaluator: 0  advice: Recheck step 2."],
        ),
        ("evaluation", {"correct": None}, {}, ["round 1  evaluator: no verdict (reply unreadable)"]),
        (
            "executor",
            {"summary": "2 of 3 tests passed", "passed": False},
            {},
            ["round 1  executor: failed  2 of 3 tests passed"],
        ),
        ("termination", {"reason": "ceo_stop"}, {}, ["round 1  end: the CEO stopped"]),
        (
            "agent_failed",
            {"agent": "solver", "error": "no code block"},
            {},
            ["! round 1  solver failed: no code block"],
        ),
        ("solution", {"text": "42"}, {}, []),  # the solver's call line shows it already
    ],
)
def test_loop_events_read_as_sentences(
    kind: str, detail: dict[str, Any], clamped: dict[str, Any], expected: list[str]
) -> None:
    lines = event_lines(TraceEvent(round=1, kind=kind, detail=detail), clamped, full=False)  # type: ignore[arg-type]
    assert lines == expected and not any("{" in line for line in lines)


def test_tables_align_their_columns() -> None:
    lines = table(("agent", "calls", "tokens"), [("ceo", 2, "1,234"), ("role_assigner", 10, "5")])
    assert lines == [
        "  agent          calls  tokens",
        "  ceo                2   1,234",
        "  role_assigner     10       5",
    ]
