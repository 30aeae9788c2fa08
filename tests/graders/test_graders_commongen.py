"""CommonGen concept coverage: lemma matching, so inflected forms count."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

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
    # Forms the part-of-speech-blind lookup table missed.
    ("Both bases were loaded.", ["base"], []),
    ("He sharpened the axes.", ["axe"], []),
    ("The calves grazed.", ["calf"], []),
    ("She crosses the street.", ["cross"], []),
    ("He attaches the leash.", ["attach", "leash"], []),
    ("We grilled burgers.", ["burger"], []),
    ("Frisbees flew.", ["frisbee"], []),
    ("He wore jeans.", ["jean"], []),
    ("He wore jeans.", ["jeans"], []),
    ("Skateboarders gathered.", ["skateboarder"], []),
    ("Biking is fun.", ["bike"], []),
    ("The leaves fell from the shelves.", ["leaf", "shelf", "fall"], []),
    ("Thieves skied down.", ["thief", "ski"], []),
    ("Two Dogs and a CAT.", ["dog", "cat"], []),
    ("She wore an ice-cream dress.", ["ice cream", "dress"], []),
    ("The boy skateboarding downhill.", ["skateboard"], []),
    # Whole words only, and no lemma a word cannot have.
    ("We walked through the forest.", ["rest", "walk"], ["rest"]),
    ("A busy street.", ["bus", "street"], ["bus"]),
    ("A hotdog and a dogwood.", ["dog", "wood"], ["dog", "wood"]),
    ("The bus arrived.", ["busy"], ["busy"]),
    ("Carpets everywhere.", ["car", "pet"], ["car", "pet"]),
    ("A snowman.", ["snow", "man"], ["snow", "man"]),
    ("", ["dog"], ["dog"]),
    ("The dog.", ["", "_N"], ["", "_N"]),  # a concept without words is never covered
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


BENCHMARK_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_commongen_inflections.py"
MIN_INFLECTION_COVERAGE = 0.995


def inflection_benchmark() -> ModuleType:
    """The table and the measurement live in the benchmark script, so both report the same number."""
    spec = importlib.util.spec_from_file_location("bench_commongen_inflections", BENCHMARK_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_inflected_forms_of_commongen_concepts_are_recognised() -> None:
    benchmark = inflection_benchmark()
    table = benchmark.inflection_table()
    assert len({concept for concept, _ in table}) >= 150
    for pair in [("base", "bases"), ("jean", "jeans"), ("bike", "biking"), ("skateboarder", "skateboarders")]:
        assert pair in table
    missed = benchmark.misses(table)
    coverage = 1 - len(missed) / len(table)
    print(f"CommonGen inflection coverage: {coverage:.2%} of {len(table)} forms; missed: {missed}")
    assert coverage >= MIN_INFLECTION_COVERAGE, missed


def test_coverage_is_the_same_from_concurrent_first_calls() -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: concept_coverage("Dogs ran.", ["dog", "run", "cat"]), range(8)))
    assert all(result == (["dog", "run"], ["cat"]) for result in results)
