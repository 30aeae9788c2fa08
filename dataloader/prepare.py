"""Fetch a benchmark's raw records and write them as a normalized JSONL file.

`scripts/prepare_data.py` is a thin CLI over `prepare_benchmark`. The hub is reached through an
injectable `loader` with the signature of `datasets.load_dataset(path, name, split=...)`, so tests
can pass `datasets.Dataset.from_list(...)` fixtures and never touch the network. Nothing here runs
at import.
"""

from __future__ import annotations

import json
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dataloader import get_benchmark, load_samples
from dataloader.base import Sample
from dataloader.commongen import SOURCE_HINT
from dataloader.errors import DataError, GatedDatasetError, RecordError, SourceUnavailableError
from dataloader.loading import REPO_ROOT, check_text, decode_text, parse_json_lines, read_json_lines
from dataloader.spec import Benchmark

DatasetLoader = Callable[..., Iterable[Mapping[str, Any]]]
DEFAULT_OUT_DIR = REPO_ROOT / "data"
DOWNLOAD_TIMEOUT_S = 60


@dataclass(frozen=True)
class PrepareResult:
    benchmark: str
    path: Path
    count: int
    origin: str
    notes: list[str] = field(default_factory=list)


def prepare_benchmark(
    benchmark: str,
    out_dir: Path = DEFAULT_OUT_DIR,
    *,
    source: str | None = None,
    limit: int | None = None,
    offline: bool = False,
    loader: DatasetLoader | None = None,
) -> PrepareResult:
    """Fetch, convert, write `<out_dir>/<benchmark>/test.jsonl` atomically, and check it loads."""
    spec = get_benchmark(benchmark)
    records, origin, notes = fetch_records(spec, source=source, offline=offline, loader=loader)
    if limit is not None:
        records = records[:limit]
    samples, duplicates = convert_records(spec, records, origin)
    if duplicates:
        notes.append(f"dropped {duplicates} exact duplicate record(s)")
    path = Path(out_dir) / spec.name / "test.jsonl"
    write_jsonl_atomic(path, [sample.model_dump(mode="json") for sample in samples])
    load_samples(spec.name, path)  # the file must round-trip through the strict reader
    if limit is None and spec.expected_size is not None and len(samples) != spec.expected_size:
        notes.append(f"expected {spec.expected_size} problems, got {len(samples)}")
    return PrepareResult(spec.name, path, len(samples), origin, notes)


def fetch_records(
    spec: Benchmark, *, source: str | None, offline: bool, loader: DatasetLoader | None
) -> tuple[list[dict[str, Any]], str, list[str]]:
    """(raw records, where they came from, notes for the user)."""
    if source is not None and is_file_or_url(source):
        return read_source(source), source, []
    if offline or spec.hub is None:
        return offline_or_fail(spec, source, offline)
    hub_path = source or spec.hub.path
    try:
        return fetch_hub_records(spec, hub_path, loader), f"hub {hub_path}", []
    except SourceUnavailableError as error:
        if spec.offline_records is None:
            raise
        note = f"hub unreachable ({error}); used the offline copy instead"
        return spec.offline_records(), f"{spec.name} offline package", [note]


def offline_or_fail(spec: Benchmark, source: str | None, offline: bool) -> tuple[list[dict[str, Any]], str, list[str]]:
    if spec.hub is None and source is not None:
        raise SourceUnavailableError(f"{spec.name} source {source!r} is neither an existing file nor a URL")
    if spec.offline_records is not None:
        return spec.offline_records(), f"{spec.name} offline package", []
    if spec.hub is None:
        raise SourceUnavailableError(f"{spec.name} has no hub copy: {SOURCE_HINT}")
    raise SourceUnavailableError(f"{spec.name} has no offline copy; run without --offline")


def fetch_hub_records(spec: Benchmark, hub_path: str, loader: DatasetLoader | None) -> list[dict[str, Any]]:
    assert spec.hub is not None
    load = loader if loader is not None else hub_loader()
    try:
        dataset = load(hub_path, spec.hub.config, split=spec.hub.split)
        return [dict(record) for record in dataset]
    except Exception as error:
        if is_gated(error):
            raise GatedDatasetError(gated_message(hub_path)) from error
        if is_unreachable(error):
            raise SourceUnavailableError(f"cannot reach {hub_path} on the Hugging Face hub") from error
        if is_hub_refusal(error):
            raise SourceUnavailableError(f"cannot load {hub_path}: {error}") from error
        raise


def hub_loader() -> DatasetLoader:
    # Imported here: `datasets` is slow to import and only this path needs it.
    from datasets import load_dataset

    loader: DatasetLoader = load_dataset
    return loader


def gated_message(hub_path: str) -> str:
    return (
        f"{hub_path} is a gated dataset: accept its terms at https://huggingface.co/datasets/{hub_path} "
        "while logged in, then run `huggingface-cli login` (or set HF_TOKEN) and try again"
    )


def error_chain(error: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def is_gated(error: BaseException) -> bool:
    """The hub's gated-repo refusal, however `datasets` and `huggingface_hub` wrap it."""
    # Not HTTP 401 alone: the hub also answers 401 for a misspelled repository name.
    return any("Gated" in type(link).__name__ or "gated" in str(link).lower() for link in error_chain(error))


def is_unreachable(error: BaseException) -> bool:
    for link in error_chain(error):
        if isinstance(link, ConnectionError | TimeoutError | urllib.error.URLError):
            return True
        if "OfflineModeIsEnabled" in type(link).__name__ or "couldn't reach" in str(link).lower():
            return True
    return False


def is_hub_refusal(error: BaseException) -> bool:
    """A misspelled dataset, config or split: worth a message, not a traceback."""
    module = type(error).__module__
    return module.startswith(("datasets", "huggingface_hub")) or isinstance(error, FileNotFoundError)


def is_file_or_url(source: str) -> bool:
    return source.startswith(("http://", "https://")) or Path(source).expanduser().is_file()


def read_source(source: str) -> list[dict[str, Any]]:
    """Raw records from a local JSONL/JSON file or an http(s) URL of one."""
    if source.startswith(("http://", "https://")):
        return parse_records(download_text(source), source)
    path = Path(source).expanduser()
    if path.suffix == ".json":
        return parse_records(decode_text(path.read_bytes(), source), source)
    return [record for _, record in read_json_lines(path)]


def download_text(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            body: bytes = response.read()
    except (urllib.error.URLError, TimeoutError) as error:
        raise SourceUnavailableError(f"cannot download {url}: {error}") from error
    return decode_text(body, url)


def parse_records(text: str, source: str) -> list[dict[str, Any]]:
    """A JSON array of objects, or JSON Lines."""
    if not text.lstrip().startswith("["):
        return [record for _, record in parse_json_lines(text.splitlines(), source)]
    try:
        records: Any = json.loads(text)
    except json.JSONDecodeError as error:
        raise DataError(f"{source}: invalid JSON ({error.msg.removesuffix(' at')} at line {error.lineno})") from None
    if not isinstance(records, list) or not all(isinstance(record, dict) for record in records):
        raise DataError(f"{source}: expected a JSON array of objects")
    for index, record in enumerate(records, start=1):
        check_text(record, f"{source}, record {index}")
    return [dict(record) for record in records]


def convert_records(spec: Benchmark, records: list[dict[str, Any]], origin: str) -> tuple[list[Sample], int]:
    """Stored samples and how many exact duplicates were dropped; conflicting ids are an error."""
    samples: dict[str, Sample] = {}
    duplicates = 0
    for index, record in enumerate(records, start=1):
        try:
            sample = spec.to_stored(record)
        except RecordError as error:
            raise error.located(f"{origin}, record {index}") from None
        if sample.id not in samples:
            samples[sample.id] = sample
        elif samples[sample.id] == sample:
            duplicates += 1  # the same problem listed twice is still one problem
        else:
            raise DataError(f"{origin}, record {index}, field 'id': duplicate id {sample.id!r}")
    return list(samples.values()), duplicates


def write_jsonl_atomic(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write to a temporary file beside `path`, then rename, so a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
