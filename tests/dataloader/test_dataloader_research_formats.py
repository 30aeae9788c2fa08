"""Every loader reads its benchmark's common layouts: the hub schema, the research repository's
files (tests/fixtures/data/research/, written in that repository's field layouts) and frequent
mirrors. Records without an id get a stable hash of their content."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dataloader import DataError, aime2024, commongen, gpqa_diamond, humaneval, load_samples, math500, mbpp_sanitized
from dataloader.errors import RecordError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "data"
RESEARCH = FIXTURES / "research"
BENCHMARKS = ["aime2024", "math500", "gpqa_diamond", "humaneval", "mbpp_sanitized", "commongen"]


def rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def sha1_id(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def write_rows(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


@pytest.mark.parametrize("benchmark", BENCHMARKS)
def test_research_repository_files_load(benchmark: str) -> None:
    samples = load_samples(benchmark, RESEARCH / f"{benchmark}.jsonl")
    assert len(samples) == len(rows(RESEARCH / f"{benchmark}.jsonl"))
    assert len({sample.id for sample in samples}) == len(samples)


@pytest.mark.parametrize("benchmark", BENCHMARKS)
def test_hashed_ids_do_not_depend_on_file_order(benchmark: str, tmp_path: Path) -> None:
    records = rows(RESEARCH / f"{benchmark}.jsonl")
    forward = {sample.input: sample.id for sample in load_samples(benchmark, RESEARCH / f"{benchmark}.jsonl")}
    reversed_file = write_rows(tmp_path / "reversed.jsonl", list(reversed(records)))
    backward = {sample.input: sample.id for sample in load_samples(benchmark, reversed_file)}
    assert forward == backward


def test_hashed_ids_are_the_same_in_another_process() -> None:
    probe = (
        "from dataloader import load_samples\n"
        f"print([sample.id for sample in load_samples('math500', {str(RESEARCH / 'math500.jsonl')!r})])\n"
    )
    environment = {**os.environ, "PYTHONHASHSEED": "12345"}
    completed = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, env=environment, check=True
    )
    here = [sample.id for sample in load_samples("math500", RESEARCH / "math500.jsonl")]
    assert completed.stdout.strip() == str(here)


def test_math500_research_layout_hashes_the_problem() -> None:
    record = rows(RESEARCH / "math500.jsonl")[0]
    sample = math500.from_raw(record)
    assert sample.id == sha1_id(record["problem"])
    assert (sample.input, sample.target) == (record["problem"], "24")
    assert sample.metadata == {"subject": "Prealgebra", "level": 1, "solution": record["solution"]}


def test_math500_hub_unique_id_still_wins() -> None:
    record = {**rows(RESEARCH / "math500.jsonl")[0], "unique_id": "test/prealgebra/1.json"}
    assert math500.from_raw(record).id == "test/prealgebra/1.json"


def test_math_variants_question_field_and_answer_from_the_boxed_solution() -> None:
    # The original MATH release: no answer field, "type" for the subject, "Level 4" as text.
    original = math500.from_raw(
        {
            "problem": "Compute $3+4$.",
            "solution": "We get $\\boxed{\\frac{14}{2}}$.",
            "type": "Algebra",
            "level": "Level 4",
        }
    )
    assert original.target == "\\frac{14}{2}"
    assert original.metadata["subject"] == "Algebra" and original.metadata["level"] == 4
    asked = math500.from_raw({"question": "Compute $3+4$.", "answer": 7})
    assert (asked.input, asked.target, asked.id) == ("Compute $3+4$.", "7", sha1_id("Compute $3+4$."))


def test_math_without_answer_or_boxed_solution_names_the_answer_field() -> None:
    with pytest.raises(RecordError, match="'answer'"):
        math500.from_raw({"problem": "Compute $3+4$.", "solution": "It is seven."})


def test_aime_research_layout_and_variants() -> None:
    research = aime2024.from_raw(rows(RESEARCH / "aime2024.jsonl")[0])
    assert (research.id, research.target) == ("70", "001")
    assert "year" not in research.metadata and research.metadata["url"].startswith("https://")
    no_id = aime2024.from_raw({"question": "Find $x$ if $x + 1 = 5$.", "answer": 4})
    assert (no_id.id, no_id.target) == (sha1_id("Find $x$ if $x + 1 = 5$."), "4")
    mirror = aime2024.from_raw({"ID": "2024-I-5", "Problem": "Find $y$.", "Solution": "So $\\boxed{12}$."})
    assert (mirror.id, mirror.target) == ("2024-I-5", "12")


def test_gpqa_research_layout_hashes_the_question() -> None:
    record = rows(RESEARCH / "gpqa_diamond.jsonl")[0]
    sample = gpqa_diamond.from_raw(record)
    assert sample.id == sha1_id(record["Question"])
    assert f"({sample.target}) The photon" in sample.input


def test_gpqa_snake_case_and_list_layouts() -> None:
    snake = {
        "question": "Which particle mediates the electromagnetic force?",
        "correct_answer": "The photon",
        "incorrect_answer_1": "The gluon",
        "incorrect_answer_2": "The W boson",
        "incorrect_answer_3": "The Higgs boson",
        "record_id": 17,
    }
    listed = {
        "question": snake["question"],
        "correct_answer": "The photon",
        "incorrect_answers": ["The gluon", "The W boson", "The Higgs boson"],
        "id": 17,
    }
    hub = {**rows(RESEARCH / "gpqa_diamond.jsonl")[0], "Record ID": "17"}
    samples = [gpqa_diamond.from_raw(record) for record in (snake, listed, hub)]
    assert len({(sample.id, sample.input, sample.target) for sample in samples}) == 1
    assert samples[0].id == "17"


def test_gpqa_incorrect_answers_list_must_hold_three() -> None:
    with pytest.raises(RecordError, match="'incorrect_answers'"):
        gpqa_diamond.from_raw({"question": "Q?", "correct_answer": "a", "incorrect_answers": ["b", "c"]})


def test_humaneval_without_task_id_or_entry_point() -> None:
    records = rows(RESEARCH / "humaneval.jsonl")
    first, second = (humaneval.from_raw(record) for record in records)
    assert first.id == sha1_id(records[0]["prompt"])
    # The entry point is the prompt's last function: helpers come first in HumanEval prompts.
    assert (first.metadata["entry_point"], second.metadata["entry_point"]) == ("add", "count_even")
    assert first.target.endswith("check(add)\n")
    assert second.metadata["public_tests"] == ["assert count_even([1, 2, 4]) == 2"]


@pytest.mark.parametrize("record", rows(RESEARCH / "humaneval.jsonl"), ids=["add", "count_even"])
def test_humaneval_research_target_passes_with_the_reference_code(record: dict[str, Any]) -> None:
    sample = humaneval.from_raw(record)
    program = sample.input + record["canonical_solution"] + "\n" + str(sample.target)
    subprocess.run([sys.executable, "-c", program], check=True, timeout=30)


def test_humaneval_integer_task_id_and_prompt_without_function() -> None:
    record = {**rows(RESEARCH / "humaneval.jsonl")[0], "task_id": 3}
    assert humaneval.from_raw(record).id == "3"
    with pytest.raises(RecordError, match="'entry_point'"):
        humaneval.from_raw({"prompt": "# no function here\n", "test": "def check(candidate):\n    pass\n"})


def test_mbpp_research_layout_hashes_description_and_tests() -> None:
    record = rows(RESEARCH / "mbpp_sanitized.jsonl")[0]
    sample = mbpp_sanitized.from_raw(record)
    assert sample.id == "mbpp/" + sha1_id(record["prompt"] + "\n" + "\n".join(record["test_list"]))
    assert "The function header: def reverse_words(sentence):\n" in sample.input
    other = mbpp_sanitized.from_raw(
        {**record, "test_list": [*record["test_list"][:2], 'assert reverse_words("x y") == "y x"']}
    )
    assert other.id != sample.id  # same description, other tests: another problem


@pytest.mark.parametrize("record", rows(RESEARCH / "mbpp_sanitized.jsonl"), ids=["reverse_words", "hypotenuse"])
def test_mbpp_research_target_passes_with_the_reference_code(record: dict[str, Any]) -> None:
    sample = mbpp_sanitized.from_raw(record)
    subprocess.run([sys.executable, "-c", record["code"] + "\n\n" + str(sample.target)], check=True, timeout=30)


def test_mbpp_full_hub_schema_without_test_imports() -> None:
    record = {
        "task_id": 11,
        "text": "Write a python function to remove first and last occurrence of a given character.",
        "code": "def remove_occurrence(text, character):\n    return text.replace(character, '', 1)",
        "test_list": ['assert remove_occurrence("hello", "l") == "helo"'],
        "test_setup_code": "",
        "challenge_test_list": [],
    }
    sample = mbpp_sanitized.from_raw(record)
    assert sample.id == "mbpp/11" and sample.metadata["test_imports"] == []
    with_setup = mbpp_sanitized.from_raw({**record, "test_setup_code": "import re"})
    assert str(with_setup.target).startswith("import re\n")


def test_commongen_research_layout_and_variants() -> None:
    record = rows(RESEARCH / "commongen.jsonl")[0]
    assert commongen.from_raw(record).id == sha1_id("#".join(sorted(record["concepts"])))
    assert commongen.from_raw({"id": 4, "concepts": ["a", "b"]}).id == "4"
    commas = commongen.from_raw({"concept_set": "dog, frisbee, catch"})
    spaces = commongen.from_raw({"concept_set": "dog frisbee catch"})
    assert commas.target == spaces.target == ["dog", "frisbee", "catch"]


UNDECODABLE = [
    (b'{"problem": "caf\xe9", "answer": "1"}\n', "line 2", "UTF-8"),  # Latin-1 byte
    (b'{"problem": "\xff\xfe", "answer": "1"}\n', "line 2", "UTF-8"),
    (b'{"problem": "x\\ud800y", "answer": "1"}\n', "line 2, field 'problem'", "surrogate"),
    (b'{"problem": "x", "answer": "1", "notes": ["ok", {"\\udfff": 1}]}\n', "line 2, field 'notes", "surrogate"),
]


@pytest.mark.parametrize(("bad_line", "where", "problem"), UNDECODABLE)
def test_undecodable_text_is_one_data_error_naming_file_and_line(
    bad_line: bytes, where: str, problem: str, tmp_path: Path
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"problem": "fine", "answer": "2"}\n' + bad_line)
    with pytest.raises(DataError, match=problem) as caught:
        load_samples("math500", path)
    assert str(path) in str(caught.value) and where in str(caught.value)


def test_a_byte_order_mark_is_not_an_error(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + (RESEARCH / "math500.jsonl").read_bytes())
    assert load_samples("math500", path) == load_samples("math500", RESEARCH / "math500.jsonl")


def test_a_surrogate_in_a_json_array_source_is_a_data_error(tmp_path: Path) -> None:
    from dataloader.prepare import prepare_benchmark

    array = tmp_path / "concepts.json"
    array.write_bytes(b'[{"concepts": ["a", "b"]},\n {"concepts": ["x\\ud800"]}]')
    with pytest.raises(DataError, match=r"concepts\.json, record 2, field 'concepts\.0'.*surrogate"):
        prepare_benchmark("commongen", tmp_path / "out", source=str(array))
    latin = tmp_path / "latin.json"
    latin.write_bytes(b'[{"concepts": ["a"]},\n {"concepts": ["caf\xe9"]}]')
    with pytest.raises(DataError, match=r"latin\.json, line 2.*UTF-8"):
        prepare_benchmark("commongen", tmp_path / "out", source=str(latin))
