"""What the loader needs to know about one benchmark: its source and how records become samples."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from dataloader.base import Sample


@dataclass(frozen=True)
class HubSource:
    """Where `datasets.load_dataset(path, config, split=split)` finds the benchmark."""

    path: str
    config: str | None
    split: str


@dataclass(frozen=True)
class LoadOptions:
    """Choices made when samples are loaded, not when the data file is written."""

    shuffle_options: bool = True
    seed: int = 0


def unchanged(sample: Sample, options: LoadOptions) -> Sample:
    return sample


@dataclass(frozen=True)
class Benchmark:
    """One benchmark's data contract.

    `to_stored` maps a raw source record to the sample written in the normalized JSONL file;
    `present` turns a stored sample into the one the agents see (GPQA shuffles its options
    there, so the shuffle stays a load-time choice). For every other benchmark both views agree.
    """

    name: str
    hub: HubSource | None
    to_stored: Callable[[Mapping[str, Any]], Sample]
    present: Callable[[Sample, LoadOptions], Sample] = unchanged
    target_is_list: bool = False
    required_metadata: tuple[str, ...] = ()
    expected_size: int | None = None
    offline_records: Callable[[], list[dict[str, Any]]] | None = None
