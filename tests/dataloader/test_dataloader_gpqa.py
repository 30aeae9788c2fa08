"""GPQA: seeded per-question option shuffle, stored permutation, research-order switch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dataloader import gpqa_diamond, load_samples
from dataloader.base import Sample
from dataloader.spec import LoadOptions

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "data" / "gpqa_diamond.jsonl"


def raw_records() -> list[dict[str, Any]]:
    return [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_ids_come_from_record_id_or_a_question_hash() -> None:
    record = raw_records()[0]
    assert gpqa_diamond.from_raw(record).id == "recFixtureAlpha01"
    without_id = {key: value for key, value in record.items() if key != "Record ID"}
    first, second = gpqa_diamond.from_raw(without_id), gpqa_diamond.from_raw(dict(without_id))
    assert first.id == second.id and len(first.id) == 12


def test_input_lists_four_lettered_options_after_the_question() -> None:
    sample = gpqa_diamond.from_raw(raw_records()[2])
    question, options = sample.input.split("\n\n")
    assert question == "During which phase of mitosis do sister chromatids separate?"
    assert [line[:4] for line in options.splitlines()] == ["(A) ", "(B) ", "(C) ", "(D) "]
    assert sorted(line[4:] for line in options.splitlines()) == [
        "Anaphase",
        "Metaphase",
        "Prophase",
        "Telophase",
    ]


@pytest.mark.parametrize("record", raw_records(), ids=lambda record: record["Record ID"])
def test_permutation_maps_the_target_letter_back_to_the_correct_answer(record: dict[str, Any]) -> None:
    sample = gpqa_diamond.from_raw(record, seed=0)
    permutation = sample.metadata["permutation"]
    choices = [record["Correct Answer"], *(record[f"Incorrect Answer {number}"] for number in (1, 2, 3))]
    assert sorted(permutation) == [0, 1, 2, 3]
    assert sample.metadata["options"] == [choices[index] for index in permutation]
    letter_index = "ABCD".index(str(sample.target))
    assert permutation[letter_index] == 0
    assert sample.metadata["options"][letter_index] == record["Correct Answer"]
    assert f"({sample.target}) {record['Correct Answer']}" in sample.input
    assert sample.metadata["shuffled"] is True


def test_shuffle_is_deterministic_per_question() -> None:
    for record in raw_records():
        first, second = gpqa_diamond.from_raw(record), gpqa_diamond.from_raw(dict(record))
        assert first == second


def test_shuffle_differs_across_questions_and_seeds() -> None:
    orders = {tuple(gpqa_diamond.from_raw(record).metadata["permutation"]) for record in raw_records()}
    assert len(orders) > 1
    record = raw_records()[0]
    by_seed = {tuple(gpqa_diamond.from_raw(record, seed=seed).metadata["permutation"]) for seed in range(8)}
    assert len(by_seed) > 1


def test_order_does_not_depend_on_file_position_or_limit(tmp_path: Path) -> None:
    records = raw_records()
    path = tmp_path / "reversed.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for record in reversed(records)), encoding="utf-8")
    forward = {sample.id: sample for sample in load_samples("gpqa_diamond", FIXTURE)}
    backward = load_samples("gpqa_diamond", path, limit=2)
    assert all(sample == forward[sample.id] for sample in backward)


def test_no_shuffle_reproduces_the_research_order_with_the_answer_at_b() -> None:
    for record in raw_records():
        sample = gpqa_diamond.from_raw(record, shuffle_options=False)
        assert sample.target == "B"
        assert sample.metadata["permutation"] == [1, 0, 2, 3]
        assert sample.metadata["options"][0] == record["Incorrect Answer 1"]
        assert sample.metadata["shuffled"] is False


def test_stored_view_keeps_raw_fields_and_no_order() -> None:
    stored = gpqa_diamond.to_stored(raw_records()[1])
    assert stored.target == "Pyridinium chlorochromate (PCC)"
    assert stored.input == stored.metadata["question"]
    assert stored.metadata["incorrect_answers"][2] == "Sodium borohydride"
    assert stored.metadata["domain"] == "Chemistry"
    assert "permutation" not in stored.metadata


def test_shuffle_is_chosen_at_load_time_from_a_normalized_file(tmp_path: Path) -> None:
    path = tmp_path / "normalized.jsonl"
    stored = [gpqa_diamond.to_stored(record) for record in raw_records()]
    path.write_text("".join(sample.model_dump_json() + "\n" for sample in stored), encoding="utf-8")
    shuffled = load_samples("gpqa_diamond", path, seed=3)
    fixed = load_samples("gpqa_diamond", path, shuffle_options=False)
    assert [sample.target for sample in fixed] == ["B"] * len(stored)
    assert shuffled == [gpqa_diamond.from_raw(record, seed=3) for record in raw_records()]


def test_a_presented_sample_can_be_presented_again() -> None:
    presented = gpqa_diamond.from_raw(raw_records()[3], seed=1)
    again = gpqa_diamond.present(presented, LoadOptions(shuffle_options=False))
    assert again == gpqa_diamond.from_raw(raw_records()[3], shuffle_options=False)


def test_missing_raw_answer_field_is_named_at_load_time() -> None:
    sample = Sample(id="q1", input="Q?", target="x", metadata={"question": "Q?", "correct_answer": "x"})
    with pytest.raises(ValueError, match=r"metadata\.incorrect_answers"):
        gpqa_diamond.present(sample, LoadOptions())
