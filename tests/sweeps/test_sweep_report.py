"""The sweep report's rows: a system with nothing completed has no score (not 0.0, and not on the
Pareto frontier); a self-consistency answer the grader cannot decide is excluded, not scored 0."""

from __future__ import annotations

import asyncio

import pytest

from agentverse.environments.tasksolving.environment import ProblemResult
from agentverse.graders.base import Grade, GradeStatus
from agentverse.runs.store import RunRecord
from agentverse.sweeps import report
from agentverse.sweeps.report import consistency_rows, markdown, measured, pareto_rows
from agentverse.sweeps.spec import SweepSpec, System, short_names
from agentverse.trace import CallRecord, Trace
from dataloader.base import Sample
from tests.conftest import fake_config

TASK = "tasksolving/math500/smollm2"


def system(name: str, kind: str = "mas") -> System:
    return System(name=name, kind=kind, settings={}, config=fake_config(TASK, ["http://127.0.0.1:9/v1"]), samples=2)


def test_a_system_with_no_completed_problem_has_no_score_and_is_off_the_frontier() -> None:
    empty = measured(system("broken"), "mas", [{}], [], errors=4)
    assert empty.row.score is None and empty.row.standard_error is None and empty.row.problems == 0
    working = measured(system("working"), "mas", [{"q1": 0.0, "q2": 1.0}], [(50, 80, 5, 1)] * 2, errors=0)
    text = markdown(SweepSpec(task=TASK), [empty, working])
    assert "| broken | mas | – |" in text and "| working | mas | 50.0 ± 50.0 |" in text
    assert [row.system for row in pareto_rows([empty.row, working.row])] == ["working"]


def record(sample_id: str, texts: list[str]) -> RunRecord:
    trace = Trace()
    for index, text in enumerate(texts, start=1):
        trace.add_call(
            CallRecord(
                round=1,
                agent=f"Solver {index}",
                agent_type="solver",
                role="",
                attempt=1,
                messages=[],
                generation=fake_config(TASK, ["http://127.0.0.1:9/v1"]).agent("solver").llm,
                status="ok",
                content=text,
                parsed={"text": text},
                completion_tokens=10,
            )
        )
    result = ProblemResult.from_trace(
        sample_id, trace, termination="self_consistency", rounds=1, wall_time_s=0.1, final_answer=texts[0]
    )
    sample = Sample(id=sample_id, input="?", target="1")
    return RunRecord(sample=sample, status="ok", result=result)


def test_an_undecided_grade_excludes_the_self_consistency_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    async def grader(sample: Sample, text: str) -> Grade:
        if "undecidable" in text:
            return Grade(status=GradeStatus.ERROR, score=0.0, detail="the grader failed")
        right = "\\boxed{1}" in text
        return Grade(status=GradeStatus.CORRECT if right else GradeStatus.INCORRECT, score=float(right))

    monkeypatch.setattr(report, "get_grader", lambda kind: grader)
    records = [{"q1": record("q1", ["\\boxed{1}", "\\boxed{1}"]), "q2": record("q2", ["undecidable \\boxed{7}"] * 2)}]
    rows = asyncio.run(consistency_rows(system("self-consistency", "self-consistency"), records, [1, 2]))
    for row in rows:
        assert row.row.problems == 1 and row.row.errors == 1 and row.row.score == 100.0
        assert set(row.by_problem) == {"q1"}


def test_point_names_keep_the_role_of_a_roles_setting() -> None:
    keys = ["agents.ceo.llm.max_tokens", "agents.solver.llm.max_tokens", "environment.max_turn"]
    assert short_names(keys) == {
        "agents.ceo.llm.max_tokens": "ceo.max_tokens",
        "agents.solver.llm.max_tokens": "solver.max_tokens",
        "environment.max_turn": "max_turn",
    }
    assert short_names(["agents.ceo.endpoint"]) == {"agents.ceo.endpoint": "ceo.endpoint"}
