"""Math grader: case tables for box extraction, normalization and equivalence."""

from __future__ import annotations

import threading

import pytest

from agentverse.graders.base import GradeStatus
from agentverse.graders.math import extract_boxed, grade_math, normalize_answer

EXTRACTION_CASES = [
    (r"so \boxed{42}.", "42"),
    (r"\boxed{1} first, then \boxed{2}", "2"),
    (r"\boxed{\frac{a}{\sqrt{b^{2}}}}", r"\frac{a}{\sqrt{b^{2}}}"),
    (r"\boxed{\{1, 2\}}", r"\{1, 2\}"),
    (r"\fbox{12}", "12"),
    (r"The answer is $\boxed 5$", "5"),
    (r"\boxed{7} and a cut-off \boxed{8", "7"),
    ("no box at all", None),
    (r"\boxed{unclosed", None),
]


@pytest.mark.parametrize(("text", "expected"), EXTRACTION_CASES)
def test_extract_boxed(text: str, expected: str | None) -> None:
    assert extract_boxed(text) == expected


GRADE_CASES = [
    # (response, target, status)
    (r"\boxed{\frac{14}{3}}", r"\frac{14}{3}", GradeStatus.CORRECT),
    (r"\boxed{\dfrac{14}{3}}", r"\frac{14}{3}", GradeStatus.CORRECT),
    (r"\boxed{0.5}", r"\frac12", GradeStatus.CORRECT),
    (r"\boxed{\frac12}", "0.5", GradeStatus.CORRECT),
    (r"\boxed{0.25}", r"\frac{1}{4}", GradeStatus.CORRECT),
    (r"\boxed{0.3}", r"\frac{1}{3}", GradeStatus.INCORRECT),
    (r"\boxed{\left( 3, \frac{\pi}{2} \right)}", r"(3, \frac{\pi}{2})", GradeStatus.CORRECT),
    (r"\boxed{(3, \pi/2)}", r"(3, \frac{\pi}{2})", GradeStatus.CORRECT),
    (r"\boxed{(\frac{\pi}{2}, 3)}", r"(3, \frac{\pi}{2})", GradeStatus.INCORRECT),
    (r"\boxed{[1, 2)}", "[1,2)", GradeStatus.CORRECT),
    (r"\boxed{(-\infty, 0) \cup (1, \infty)}", r"(-\infty,0)\cup(1,\infty)", GradeStatus.CORRECT),
    (r"\boxed{[1, 2]}", "[1,2)", GradeStatus.INCORRECT),
    (r"\boxed{(x+1)^2}", "x^2+2x+1", GradeStatus.CORRECT),
    (r"\boxed{x^2+2x+2}", "(x+1)^2", GradeStatus.INCORRECT),
    (r"\boxed{3\sqrt{2}}", r"\sqrt{18}", GradeStatus.CORRECT),
    (r"\boxed{\text{Evelyn}}", r"\text{Evelyn}", GradeStatus.CORRECT),
    (r"\boxed{Evelyn}", r"\text{Evelyn}", GradeStatus.CORRECT),
    (r"\boxed{Nevely}", r"\text{Evelyn}", GradeStatus.INCORRECT),  # same letters: not a product
    (r"\boxed{\text{(C)}}", r"\text{(C)}", GradeStatus.CORRECT),
    (r"\boxed{10}", r"10\text{ cm}", GradeStatus.CORRECT),
    (r"\boxed{10 \text{ cm}^2}", "10", GradeStatus.CORRECT),
    (r"\boxed{30^\circ}", "30", GradeStatus.CORRECT),
    (r"\boxed{30^{\circ}}", r"30^\circ", GradeStatus.CORRECT),
    (r"\boxed{\$18.90}", "18.90", GradeStatus.CORRECT),
    (r"\boxed{50\%}", "50", GradeStatus.CORRECT),
    (r"\boxed{1,000}", "1000", GradeStatus.CORRECT),
    (r"\boxed{x = 5}", "5", GradeStatus.CORRECT),
    (r"\boxed{204}", "204", GradeStatus.CORRECT),
    (r"\boxed{205}", "204", GradeStatus.INCORRECT),
    (r"first \boxed{3}, finally \boxed{204}", "204", GradeStatus.CORRECT),
    (r"first \boxed{204}, finally \boxed{3}", "204", GradeStatus.INCORRECT),
    (r"\boxed{\frac{\sqrt{3}}{2}}", r"\frac{\sqrt3}{2}", GradeStatus.CORRECT),
    ("The answer is 204.", "204", GradeStatus.NO_ANSWER),
    ("", "204", GradeStatus.NO_ANSWER),
    (r"\boxed{}", "204", GradeStatus.NO_ANSWER),
    (r"<think>maybe \boxed{1}</think>So \boxed{204}", "204", GradeStatus.CORRECT),
    (r"<think>it is \boxed{204}</think>I am not sure.", "204", GradeStatus.NO_ANSWER),
    (r"<think>unfinished \boxed{204}", "204", GradeStatus.NO_ANSWER),
]


@pytest.mark.parametrize(("response", "target", "status"), GRADE_CASES)
def test_grade_math(response: str, target: str, status: GradeStatus) -> None:
    grade = grade_math(response, target)
    assert grade.status == status, grade.detail
    assert grade.score == (1.0 if status == GradeStatus.CORRECT else 0.0)
    if status != GradeStatus.NO_ANSWER:
        assert grade.extracted is not None


NORMALIZATION_CASES = [
    (r"\left(1, 2\right)", "(1,2)"),
    (r"\dfrac{1}{2}", r"\frac{1}{2}"),
    (r"\text{ 5 }", "5"),
    (r"12\text{ inches}", "12"),
    (r"90^\circ", "90"),
    (r"$5$", "5"),
    (r"y = 3x", "3x"),
]


@pytest.mark.parametrize(("answer", "normalized"), NORMALIZATION_CASES)
def test_normalize_answer(answer: str, normalized: str) -> None:
    assert normalize_answer(answer) == normalized


def test_grading_works_off_the_main_thread() -> None:
    # math_verify's SIGALRM timeouts would raise in a worker thread; the grader must not.
    grades = []
    worker = threading.Thread(target=lambda: grades.append(grade_math(r"\boxed{(x+1)^2}", "x^2+2x+1")))
    worker.start()
    worker.join()
    assert grades[0].status == GradeStatus.CORRECT
