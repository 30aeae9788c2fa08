"""Multiple-choice (GPQA) grader: only explicit commitments count, the last one wins."""

from __future__ import annotations

import pytest

from agentverse.graders.base import GradeStatus
from agentverse.graders.multiple_choice import extract_choice, grade_multiple_choice

EXTRACTION_CASES = [
    (r"\boxed{C}", "C"),
    (r"\boxed{\text{C}}", "C"),
    (r"\boxed{\textbf{(C)}}", "C"),
    (r"\boxed{(B)}", "B"),
    ("Answer: C", "C"),
    ("**Answer:** D", "D"),
    ("the answer is: **A**", "A"),
    ("Therefore, the answer is (C).", "C"),
    ("The correct option is B.", "B"),
    ("The answer is (B). On reflection, the answer is (D).", "D"),
    (r"Answer: A. Final: \boxed{B}", "B"),
    (r"\boxed{B}, but then Answer: D", "D"),
    ("A quick check shows B is plausible.", None),  # capitals in prose are not answers
    ("I think it is C", None),
    ("the answer is a tricky one", None),
    ("Answer: Cats", None),
    (r"\boxed{42}", None),
    ("", None),
]


@pytest.mark.parametrize(("text", "expected"), EXTRACTION_CASES)
def test_extract_choice(text: str, expected: str | None) -> None:
    assert extract_choice(text) == expected


GRADE_CASES = [
    (r"\boxed{A}", "A", GradeStatus.CORRECT),
    ("The answer is (A)", "A", GradeStatus.CORRECT),
    ("The answer is (B)", "A", GradeStatus.INCORRECT),
    ("B", "B", GradeStatus.NO_ANSWER),  # a bare letter is not a commitment (the research code's flaw)
    ("Option B seems right", "B", GradeStatus.NO_ANSWER),
    ("<think>Answer: A</think>Answer: C", "C", GradeStatus.CORRECT),
    ("<think>Answer: A</think>Answer: C", "A", GradeStatus.INCORRECT),
]


@pytest.mark.parametrize(("response", "target", "status"), GRADE_CASES)
def test_grade_multiple_choice(response: str, target: str, status: GradeStatus) -> None:
    grade = grade_multiple_choice(response, target)
    assert grade.status == status
    assert grade.score == (1.0 if status == GradeStatus.CORRECT else 0.0)
