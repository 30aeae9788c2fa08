"""Each benchmark's mapper on a fixture in its raw source schema."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dataloader import aime2024, commongen, math500, mbpp_sanitized
from dataloader.errors import RecordError
from dataloader.records import short_hash

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "data"


def raw_records(benchmark: str) -> list[dict[str, Any]]:
    lines = (FIXTURES / f"{benchmark}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_aime_ids_come_from_the_data_and_answers_are_targets() -> None:
    samples = [aime2024.from_raw(record) for record in raw_records("aime2024")]
    assert [sample.id for sample in samples] == ["60", "61", "62", "63"]
    assert samples[1].target == "31"
    assert samples[3].target == "024"  # kept verbatim; the grader normalizes
    assert samples[0].input.startswith("Find the number of ordered pairs")
    assert "boxed{5}" in samples[0].metadata["solution"]
    assert samples[0].metadata["year"] == "2024"


def test_aime_accepts_capitalized_mirror_fields() -> None:
    sample = aime2024.from_raw({"ID": "2024-II-4", "Problem": "Compute 1+1.", "Answer": 2})
    assert (sample.id, sample.target) == ("2024-II-4", "2")


def test_math500_uses_unique_id_and_keeps_subject_level_solution() -> None:
    samples = [math500.from_raw(record) for record in raw_records("math500")]
    assert samples[1].id == "test/precalculus/2002.json"
    assert samples[1].target == "\\left( 3, \\frac{\\pi}{2} \\right)"
    assert samples[1].metadata == {
        "subject": "Precalculus",
        "level": 2,
        "solution": raw_records("math500")[1]["solution"],
    }


@pytest.mark.parametrize("fields", [("problem",), ("answer", "solution")])
def test_math500_missing_field_is_named(fields: tuple[str, ...]) -> None:
    # Without an answer the boxed solution would answer, so both go.
    record = {key: value for key, value in raw_records("math500")[0].items() if key not in fields}
    with pytest.raises(RecordError, match=f"'{fields[0]}'"):
        math500.from_raw(record)


def test_math500_without_unique_id_is_identified_by_a_hash_of_its_problem() -> None:
    record = {key: value for key, value in raw_records("math500")[0].items() if key != "unique_id"}
    assert math500.from_raw(record).id == short_hash(record["problem"])


def test_mbpp_input_shows_description_header_and_first_assert() -> None:
    samples = {sample.id: sample for sample in map(mbpp_sanitized.from_raw, raw_records("mbpp_sanitized"))}
    assert sorted(samples) == ["mbpp/602", "mbpp/606", "mbpp/611", "mbpp/617"]
    first = samples["mbpp/602"]
    assert first.input == (
        "Write a python function to find the first repeated character in a given string.\n\n"
        "The function header: def first_repeated_char(text):\n"
        "Your code should pass this test:\n"
        'assert first_repeated_char("abcabc") == "a"'
    )
    assert first.metadata["public_tests"] == ['assert first_repeated_char("abcabc") == "a"']
    assert first.metadata["entry_point"] == "first_repeated_char"
    assert first.target == "\n" + "\n".join(first.metadata["test_list"]) + "\n"


def test_mbpp_finds_the_tested_function_and_its_header() -> None:
    samples = {sample.id: sample for sample in map(mbpp_sanitized.from_raw, raw_records("mbpp_sanitized"))}
    # The assert calls set() first and the code defines a helper first; the header spans two lines.
    shared = samples["mbpp/611"]
    assert shared.metadata["entry_point"] == "similar_elements"
    assert "def similar_elements(first_list, second_list):" in shared.input
    # A one-line function: the header stops before the body.
    assert "The function header: def is_even(number):\n" in samples["mbpp/617"].input
    degrees = samples["mbpp/606"]
    assert str(degrees.target).startswith("import math\n")
    assert degrees.metadata["test_imports"] == ["import math"]


@pytest.mark.parametrize("record", raw_records("mbpp_sanitized"), ids=lambda record: str(record["task_id"]))
def test_mbpp_target_passes_with_the_reference_code(record: dict[str, Any]) -> None:
    sample = mbpp_sanitized.from_raw(record)
    program = sample.metadata["code"] + "\n\n" + str(sample.target)
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr


def test_mbpp_function_defined_without_def_is_named_without_a_header() -> None:
    record = {**raw_records("mbpp_sanitized")[0], "code": "first_repeated_char = lambda text: None\n"}
    sample = mbpp_sanitized.from_raw(record)
    assert sample.metadata["entry_point"] == "first_repeated_char"
    assert "The function header" not in sample.input


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"code": "def broken(:\n"}, "code"),
        ({"test_list": ["assert len('abc') == 3"]}, "test_list"),
        ({"test_list": []}, "test_list"),
    ],
)
def test_mbpp_bad_records_name_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(RecordError, match=f"'{field}'"):
        mbpp_sanitized.from_raw({**raw_records("mbpp_sanitized")[0], **change})


def test_commongen_accepts_lists_and_hash_joined_strings() -> None:
    samples = [commongen.from_raw(record) for record in raw_records("commongen")]
    assert samples[0].target[:3] == ["dog", "frisbee", "catch"]
    assert samples[1].target[:3] == ["kitchen", "knife", "chop"]
    assert len(samples[1].target) == 21
    for sample in samples:
        assert isinstance(sample.target, list)
        assert all(concept in sample.input for concept in sample.target)
        assert f"{len(sample.target)} concepts" in sample.input


def test_commongen_ids_are_given_or_a_hash_of_the_sorted_concepts() -> None:
    samples = [commongen.from_raw(record) for record in raw_records("commongen")]
    assert samples[2].id == "cg-hard-fixture-3"
    assert samples[0].id == short_hash("#".join(sorted(samples[0].target)))
    reordered = commongen.from_raw({"concepts": list(reversed(samples[0].target))})
    assert reordered.id == samples[0].id


@pytest.mark.parametrize(
    ("record", "field"),
    [({"words": ["a"]}, "concepts"), ({"concepts": 3}, "concepts"), ({"concept_set": " # "}, "concept_set")],
)
def test_commongen_bad_records_name_the_field(record: dict[str, Any], field: str) -> None:
    with pytest.raises(RecordError, match=f"'{field}'"):
        commongen.from_raw(record)
