"""Multiple-choice (GPQA) grader: only explicit commitments count, the last one wins."""

from __future__ import annotations

import pytest

from agentverse.graders.base import GradeStatus
from agentverse.graders.multiple_choice import extract_choice, final_commitment, grade_multiple_choice

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

# Hedges: a final commitment naming several options is no answer; the commitment ends with its
# sentence or clause, so letters discussed after it are not part of it.
HEDGE_CASES = [
    # (text, letters the final commitment names; () when there is none)
    ("The answer is (C) or (D)", ("C", "D")),
    ("Answer: C and D", ("C", "D")),
    ("Answer: C or D.", ("C", "D")),
    ("The answer is either C or D.", ("C", "D")),
    ("Answer: C, D", ("C", "D")),
    ("Answer: C/D", ("C", "D")),
    ("The answer is (C) (or possibly D).", ("C", "D")),
    ("The answer is B, C, or D", ("B", "C", "D")),
    ("Answer: C and/or D", ("C", "D")),
    (r"\boxed{C, D}", ("C", "D")),
    (r"\boxed{C \text{ or } D}", ("C", "D")),
    (r"\boxed{\text{C and D}}", ("C", "D")),
    (r"\boxed{(C)/(D)}", ("C", "D")),
    (r"\boxed{C} or \boxed{D}", ("C", "D")),
    (r"$\boxed{C}$ or $\boxed{D}$", ("C", "D")),
    ("The answer is (C)", ("C",)),
    ("Answer: C. D is wrong because it ignores spin.", ("C",)),
    ("Answer: C; D fails the symmetry test.", ("C",)),
    ("The answer is C, not D.", ("C",)),
    ("The answer is C rather than D.", ("C",)),
    ("The answer is C because A and B break parity.", ("C",)),
    ("Answer: C and a bit of luck", ("C",)),
    ("The answer is C and D is wrong.", ("C",)),  # "D is": a new clause
    ("The answer is C, D fails the test.", ("C",)),
    ("The answer is C or D is correct.", ("C", "D")),  # "or" keeps hedging
    ("Answer: C and D are both correct", ("C", "D")),
    ("Answer: C or c", ("C",)),  # a lowercase letter is prose, not an option
    ("Answer: C, C", ("C",)),  # one distinct letter
    (r"\boxed{C}", ("C",)),
    (r"\boxed{\textbf{C}}", ("C",)),
    (r"\boxed{C}. Option D is wrong.", ("C",)),
    (r"\boxed{C}, while \boxed{D} was my first guess", ("D",)),  # not joined: the last box wins
    ("The answer is (C) or (D). On reflection, the answer is D.", ("D",)),
    (r"\boxed{C or D}. After checking units, Answer: D", ("D",)),
    ("Answer: D. Then again, the answer is (C) or (D).", ("C", "D")),
    (r"\boxed{C+x}", ()),
]


@pytest.mark.parametrize(("text", "letters"), HEDGE_CASES)
def test_a_commitment_names_the_letters_of_its_own_clause(text: str, letters: tuple[str, ...]) -> None:
    commitment = final_commitment(text)
    assert (commitment.letters if commitment is not None else ()) == letters
    assert extract_choice(text) == (letters[0] if len(letters) == 1 else None)


@pytest.mark.parametrize(
    "response", ["The answer is (C) or (D)", "Answer: C and D", r"\boxed{C, D}", r"\boxed{C \text{ or } D}"]
)
@pytest.mark.parametrize("target", ["C", "D", "A"])
def test_a_hedged_answer_is_no_answer_whatever_the_target(response: str, target: str) -> None:
    grade = grade_multiple_choice(response, target)
    assert grade.status == GradeStatus.NO_ANSWER and grade.score == 0.0
    assert "several options" in grade.detail and "C, D" in grade.detail


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
    ("The answer is (C) or (D)", "C", GradeStatus.NO_ANSWER),
    ("Answer: C and D", "C", GradeStatus.NO_ANSWER),
    ("Answer: C. D is wrong because it ignores spin.", "C", GradeStatus.CORRECT),
    (r"\boxed{C}", "C", GradeStatus.CORRECT),
    (r"\boxed{C, D}", "D", GradeStatus.NO_ANSWER),
    ("<think>C or D?</think>The answer is (D).", "D", GradeStatus.CORRECT),
]


@pytest.mark.parametrize(("response", "target", "status"), GRADE_CASES)
def test_grade_multiple_choice(response: str, target: str, status: GradeStatus) -> None:
    grade = grade_multiple_choice(response, target)
    assert grade.status == status
    assert grade.score == (1.0 if status == GradeStatus.CORRECT else 0.0)
