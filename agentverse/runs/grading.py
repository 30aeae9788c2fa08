"""Grading one finished problem: the one rule shared by the runner and by re-grading.

No solution is a wrong answer (`no_answer`); a grader that cannot decide (a bug, a sandbox
that would not start) makes the problem an error, never a wrong answer.
"""

from __future__ import annotations

from agentverse.environments.tasksolving.environment import ProblemResult
from agentverse.graders.base import Grade, GradeStatus
from agentverse.graders.registry import get_grader
from agentverse.runs.store import RunRecord
from dataloader.base import Sample

NO_SOLUTION = Grade(status=GradeStatus.NO_ANSWER, score=0.0, detail="the solver produced no solution")


async def grade_result(kind: str, sample: Sample, result: ProblemResult) -> Grade:
    if result.final_answer is None:
        return NO_SOLUTION
    grader = get_grader(kind)
    try:
        return await grader(sample, result.final_answer)
    except Exception as error:  # a grader bug must not lose the solved problem
        return Grade(status=GradeStatus.ERROR, score=0.0, detail=f"grader failed: {error!r}")


def with_grade(record: RunRecord, grade: Grade) -> RunRecord:
    """The record carrying this grade, in the bucket the grade puts it in."""
    if grade.status == GradeStatus.ERROR:
        return record.model_copy(update={"grade": grade, "status": "error", "error": f"grading failed: {grade.detail}"})
    return record.model_copy(update={"grade": grade, "status": "ok", "error": None})
