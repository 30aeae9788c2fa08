"""CommonGen concept coverage: lemma matching, so inflected forms count."""

from __future__ import annotations

import pytest

from agentverse.graders.base import GradeStatus
from agentverse.graders.commongen import concept_coverage, grade_concept_coverage

COVERAGE_CASES = [
    # (text, concepts, missing)
    ("The dog ran across the field.", ["dog", "run", "field"], []),
    ("Two dogs are running in the park.", ["dog", "run", "park"], []),
    ("She runs while her dogs sleep.", ["run", "dog", "sleep"], []),
    ("The children threw balls; the geese sat.", ["child", "throw", "ball", "goose", "sit"], []),
    ("Running Dogs chase a frisbee.", ["dog", "run", "frisbee"], []),
    ("A cat sleeps.", ["dog", "cat", "sleep"], ["dog"]),
    ("The dog barked.", ["dog_N", "bark_V"], []),
    ("We ate ice cream.", ["ice cream", "eat"], []),
    ("We ate cream.", ["ice cream"], ["ice cream"]),
    ("hotdog stand", ["dog"], ["dog"]),  # whole words only
]


@pytest.mark.parametrize(("text", "concepts", "missing"), COVERAGE_CASES)
def test_concept_coverage(text: str, concepts: list[str], missing: list[str]) -> None:
    covered, found_missing = concept_coverage(text, concepts)
    assert found_missing == missing
    assert covered == [concept for concept in concepts if concept not in missing]


GRADE_CASES = [
    ("The dog ran.", ["dog", "run"], GradeStatus.CORRECT, 1.0),
    ("The dog sat.", ["dog", "run", "sit", "ball"], GradeStatus.INCORRECT, 0.5),
    ("", ["dog"], GradeStatus.NO_ANSWER, 0.0),
    ("<think>dog run</think>   ", ["dog"], GradeStatus.NO_ANSWER, 0.0),
    ("<think>about cats</think>The dog ran.", ["dog", "cat"], GradeStatus.INCORRECT, 0.5),
]


@pytest.mark.parametrize(("response", "concepts", "status", "score"), GRADE_CASES)
def test_grade_concept_coverage(response: str, concepts: list[str], status: GradeStatus, score: float) -> None:
    grade = grade_concept_coverage(response, concepts)
    assert grade.status == status
    assert grade.score == pytest.approx(score)
