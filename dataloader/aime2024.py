"""AIME 2024: 30 competition problems with integer answers (0-999).

Raw schema (hub `HuggingFaceH4/aime_2024`, split train): id (int), problem, solution, answer, url, year.
The sample's id is the hub's `id` as a string; capitalized field names (other mirrors) are accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dataloader.base import Sample
from dataloader.records import optional_text, require_text
from dataloader.spec import Benchmark, HubSource

HUB_PATH = "HuggingFaceH4/aime_2024"
HUB_CONFIG: str | None = None
HUB_SPLIT = "train"
EXPECTED_SIZE = 30


def from_raw(record: Mapping[str, Any]) -> Sample:
    metadata = {
        key: value
        for key, value in (
            ("solution", optional_text(record, "solution", "Solution")),
            ("url", optional_text(record, "url")),
            ("year", optional_text(record, "year")),
        )
        if value is not None
    }
    return Sample(
        id=require_text(record, "id", "ID").strip(),
        input=require_text(record, "problem", "Problem").strip(),
        target=require_text(record, "answer", "Answer").strip(),
        metadata=metadata,
    )


BENCHMARK = Benchmark(
    name="aime2024",
    hub=HubSource(HUB_PATH, HUB_CONFIG, HUB_SPLIT),
    to_stored=from_raw,
    expected_size=EXPECTED_SIZE,
)
