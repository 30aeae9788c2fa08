"""load_samples: normalized and raw files, strict validation, errors that name file, line and field."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from dataloader import DataError, UnknownBenchmarkError, get_benchmark, load_samples, math500
from dataloader.loading import REPO_ROOT, default_path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "data"


def write_lines(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows))
    return path


def raw_rows(benchmark: str) -> list[dict[str, Any]]:
    lines = (FIXTURES / f"{benchmark}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def normalized_rows() -> list[dict[str, Any]]:
    return [sample.model_dump() for sample in load_samples("math500", FIXTURES / "math500.jsonl")]


@pytest.mark.parametrize("benchmark", ["aime2024", "math500", "gpqa_diamond", "mbpp_sanitized", "commongen"])
def test_raw_and_normalized_files_load_the_same_samples(benchmark: str, tmp_path: Path) -> None:
    from_raw = load_samples(benchmark, FIXTURES / f"{benchmark}.jsonl")
    stored = [get_benchmark(benchmark).to_stored(record) for record in raw_rows(benchmark)]
    normalized = write_lines(tmp_path / "test.jsonl", [sample.model_dump() for sample in stored])
    assert load_samples(benchmark, normalized) == from_raw
    assert load_samples(benchmark, str(normalized), limit=2) == from_raw[:2]


def test_default_path_is_under_the_repository_root() -> None:
    assert default_path("math500") == REPO_ROOT / "data" / "math500" / "test.jsonl"
    assert (REPO_ROOT / "dataloader" / "base.py").is_file()


def test_unknown_benchmark_lists_the_valid_names() -> None:
    with pytest.raises(UnknownBenchmarkError) as caught:
        load_samples("math-500")
    message = str(caught.value)
    for name in ("aime2024", "math500", "gpqa_diamond", "humaneval", "mbpp_sanitized", "commongen"):
        assert name in message
    assert isinstance(caught.value, KeyError) and isinstance(caught.value, DataError)


def test_missing_file_says_how_to_create_it(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=re.escape("python scripts/prepare_data.py aime2024")):
        load_samples("aime2024", tmp_path / "absent.jsonl")


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ({"id": "x", "input": "", "target": "1"}, "input"),
        ({"id": "x", "input": "Q", "target": 3}, "target"),
        ({"id": "x", "input": "Q", "target": "1", "extra": 1}, "extra"),
        ({"id": "x", "input": "Q", "target": ["1"]}, "target"),  # math targets are strings
    ],
)
def test_bad_normalized_line_names_file_line_and_field(tmp_path: Path, line: dict[str, Any], field: str) -> None:
    path = write_lines(tmp_path / "bad.jsonl", [*normalized_rows()[:2], line])
    with pytest.raises(DataError) as caught:
        load_samples("math500", path)
    message = str(caught.value)
    assert str(path) in message and "line 3" in message and repr(field) in message


def test_a_normalized_line_missing_a_key_is_reported_not_reinterpreted(tmp_path: Path) -> None:
    rows = normalized_rows()
    del rows[1]["target"]
    path = write_lines(tmp_path / "bad.jsonl", rows)
    with pytest.raises(DataError, match=r"line 2, field 'target'"):
        load_samples("math500", path)


def test_bad_raw_line_names_file_line_and_field(tmp_path: Path) -> None:
    rows = raw_rows("math500")
    del rows[2]["answer"], rows[2]["solution"]  # the boxed solution would stand in for the answer
    path = write_lines(tmp_path / "raw.jsonl", rows)
    with pytest.raises(DataError, match=rf"{re.escape(str(path))}, line 3, field 'answer': is missing"):
        load_samples("math500", path)


def test_malformed_json_line_names_file_and_line(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "broken.jsonl", [normalized_rows()[0], '{"id": "x", "input": '])
    with pytest.raises(DataError, match=r"broken\.jsonl, line 2: invalid JSON"):
        load_samples("math500", path)


def test_non_object_line_is_an_error(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "list.jsonl", ["[1, 2]"])
    with pytest.raises(DataError, match="line 1: expected a JSON object"):
        load_samples("math500", path)


def test_blank_lines_are_skipped(tmp_path: Path) -> None:
    rows = normalized_rows()
    path = tmp_path / "blank.jsonl"
    path.write_text("\n" + json.dumps(rows[0]) + "\n\n" + json.dumps(rows[1]) + "\n")
    assert len(load_samples("math500", path)) == 2


def test_duplicate_ids_are_rejected_with_both_lines(tmp_path: Path) -> None:
    rows = normalized_rows()
    path = write_lines(tmp_path / "dupes.jsonl", [rows[0], rows[1], {**rows[2], "id": rows[0]["id"]}])
    with pytest.raises(DataError, match=r"line 3, field 'id': duplicate id .*first seen at .*line 1"):
        load_samples("math500", path)


def test_commongen_target_must_be_a_list(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "cg.jsonl", [{"id": "a", "input": "Use: x, y.", "target": "x y"}])
    with pytest.raises(DataError, match="field 'target': must be a list"):
        load_samples("commongen", path)


def test_code_samples_need_their_entry_point(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "he.jsonl", [{"id": "HumanEval/0", "input": "def f(): ...", "target": "t"}])
    with pytest.raises(DataError, match=r"line 1, field 'metadata\.entry_point'"):
        load_samples("humaneval", path)


def test_negative_limit_is_an_error() -> None:
    with pytest.raises(DataError, match="limit"):
        load_samples("math500", FIXTURES / "math500.jsonl", limit=-1)


def test_whole_file_is_validated_even_with_a_limit(tmp_path: Path) -> None:
    rows = normalized_rows()
    path = write_lines(tmp_path / "late.jsonl", [*rows, {"id": "late"}])
    with pytest.raises(DataError, match="line 5"):
        load_samples("math500", path, limit=1)


def test_mapper_module_constants_name_the_hub_source() -> None:
    assert (math500.HUB_PATH, math500.HUB_CONFIG, math500.HUB_SPLIT) == (
        "HuggingFaceH4/MATH-500",
        None,
        "test",
    )
    hub = get_benchmark("mbpp_sanitized").hub
    assert hub is not None and (hub.path, hub.config, hub.split) == (
        "google-research-datasets/mbpp",
        "sanitized",
        "test",
    )
    assert get_benchmark("commongen").hub is None


def test_a_broken_json_line_names_its_column_once(tmp_path: Path) -> None:
    data = tmp_path / "broken.jsonl"
    data.write_text('{"id": "a", "input": "x", "target": "1"}\n{"id": "b", "input": "never closed\n')
    with pytest.raises(DataError) as caught:
        load_samples("math500", data)
    message = str(caught.value)
    assert f"{data}, line 2" in message and "at column" in message and "at at" not in message
